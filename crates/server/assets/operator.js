const dep=document.getElementById('dep').dataset.id;
// The selection is an Alert id, never a list position: an Alert arriving
// while the Operator reads another must not move what a key acts on.
let selId=null, mine=[], threshold=null, depState='', page=0, camerasDown=[];
const alerts=new Map();
// A decision waits UNDO_MS before it is sent, bound to the Alert it was
// taken on; Undo (or u) in that window cancels it. Once sent it is final.
const UNDO_MS=5000, PAGE=10; const pending=new Map();
const LABEL={FalseAlert:'False Alert',Engage:'Engage',ConfirmTrue:'Confirmed True',ConfirmFalse:'Confirmed False'};
const STATE={Raised:'Raised',FalseAlert:'False Alert',Engaged:'Engaged',ConfirmedTrue:'Confirmed True',ConfirmedFalse:'Confirmed False'};
const KEY={FalseAlert:'f',Engage:'e',ConfirmTrue:'t',ConfirmFalse:'x'};
const $=id=>document.getElementById(id);
function quality(q){try{const v=JSON.parse(q);return `IED ${v.inter_eye_distance.toFixed(0)} px · yaw ${v.yaw_degrees.toFixed(0)}° · sharpness ${v.sharpness.toFixed(0)}`}catch(e){return 'quality not recorded'}}
function allowed(state){return mine.filter(d=>d.applies_to===state).map(d=>d.decision)}
// Awaiting someone's decision: Raised (Operator) or Engaged (outcome).
function open(a){return a.state==='Raised'||a.state==='Engaged'}
function ordered(){const l=[...alerts.values()].sort((a,b)=>b.raised-a.raised);return [l.filter(open),l.filter(a=>!open(a))]}
function scoreText(a){return `${a.score.toFixed(3)}${threshold==null?'':` (Threshold ${threshold.toFixed(3)})`}`}
// The queue holds text only: no face is fetched until an Alert is opened,
// so the audit of image views records what a person actually looked at.
function renderQueue(){const [todo,done]=ordered(),pages=Math.max(1,Math.ceil(done.length/PAGE));page=Math.min(page,pages-1);
 const shown=[...todo,...done.slice(page*PAGE,(page+1)*PAGE)];
 $('pending-count').textContent=`${todo.length} awaiting a decision`;
 $('queue').innerHTML=shown.map(a=>{const p=pending.get(a.id);
  return `<div role=listitem class="card${open(a)?'':' decided'}${a.id===selId?' sel':''}" id="a-${esc(a.id)}" data-id="${esc(a.id)}" data-state="${esc(a.state)}" tabindex=0 aria-current="${a.id===selId}">
  <b>${new Date(a.raised).toLocaleTimeString()}</b> · camera ${esc(a.camera)} · score ${esc(scoreText(a))}<br>
  <span class=state>${esc(STATE[a.state]||a.state)}</span>${p?` · <span class=warn>${LABEL[p.decision]} pending</span>`:''} · ${esc(a.subject_ref??'(deleted)')}${a.blue?' (Blue Watchlist)':''}</div>`}).join('')||'<p class=muted>No Alerts yet.</p>';
 $('pager').innerHTML=done.length>PAGE?`<button id=prev-page ${page?'':'disabled'}>Newer decided</button> page ${page+1} of ${pages} <button id=next-page ${page<pages-1?'':'disabled'}>Older decided</button>`:'';
 if($('prev-page')){$('prev-page').onclick=()=>{page--;renderQueue()};$('next-page').onclick=()=>{page++;renderQueue()}}
 document.querySelectorAll('#queue .card').forEach(c=>{c.onclick=()=>select(c.dataset.id);c.onkeydown=e=>{if(e.key==='Enter')select(c.dataset.id)}})}
function select(id){if(!alerts.has(id))return;const changed=id!==selId;selId=id;renderQueue();if(changed)openAlert(id);else renderDetail()}
// Opening an Alert is the one place its face images are requested.
function openAlert(id){const a=alerts.get(id),enc=encodeURIComponent(id);
 $('nothing-open').hidden=true;$('open').hidden=false;$('open').dataset.id=id;$('note').value='';
 $('probe-img').src=`/api/v1/alerts/${enc}/images/probe`;$('candidate-img').src=`/api/v1/alerts/${enc}/images/candidate`;
 const s=$('scene-img');s.hidden=true;s.removeAttribute('src');$('scene-btn').textContent='Show the scene frame (s)';
 $('footage').href=`/api/v1/alerts/${enc}/footage`;renderDetail()}
function renderDetail(){const a=alerts.get(selId);if(!a)return;
 $('cand-ref').textContent=`${a.subject_ref??'(deleted)'}${a.blue?' (Blue Watchlist)':''}`;
 $('info').innerHTML=`<p class=score>Score <b>${a.score.toFixed(3)}</b>${threshold==null?'':` passed the Threshold <b>${threshold.toFixed(3)}</b>`}</p>
 <p>Camera <b>${esc(a.camera)}</b> · raised ${esc(when(a.raised))} · Recognition Time ${a.recognition_time_ms} ms · <span class=muted>${esc(quality(a.quality))}</span></p>
 <p>State <b class=state id=open-state>${esc(STATE[a.state]||a.state)}</b></p>`+
 (a.adjudications||[]).map(j=>`<p class=muted>${esc(when(j.at))}: ${esc(j.actor)} ${esc(LABEL[j.decision]||j.decision)}${j.note?' — '+esc(j.note):''}</p>`).join('');
 $('decide').innerHTML=allowed(a.state).map(d=>`<button class=decision data-decision="${d}">${LABEL[d]} (${KEY[d]})</button>`).join(' ')||'<span class=muted>No decision open to you on this Alert.</span>';
 $('decide').querySelectorAll('button.decision').forEach(b=>b.onclick=()=>decide(b.dataset.decision));showPending()}
// Only the keys this person may use (an Engagement Officer sees no False
// Alert key, an Operator no outcome keys).
function keysHelp(){const mineKeys=[...new Set(mine.map(d=>d.decision))].map(d=>`<kbd>${KEY[d]}</kbd> ${LABEL[d]}`);
 $('keys-help').innerHTML='Keys: <kbd>j</kbd>/<kbd>k</kbd> next/previous, '+mineKeys.map(k=>k+', ').join('')+
  '<kbd>u</kbd> undo within 5 s (nothing is recorded until then), <kbd>s</kbd> scene frame, <kbd>Esc</kbd> leaves the note.'}
function showScene(){const a=alerts.get(selId);if(!a)return;const s=$('scene-img');
 if(!s.hidden){s.hidden=true;$('scene-btn').textContent='Show the scene frame (s)';return}
 if(!s.getAttribute('src'))s.src=`/api/v1/alerts/${encodeURIComponent(a.id)}/images/scene`;s.hidden=false;$('scene-btn').textContent='Hide the scene frame (s)'}
$('scene-btn').onclick=showScene;
$('scene-img').onerror=()=>{$('scene-img').hidden=true;say('No scene frame was recorded for this Alert',true)};
function showPending(){const box=$('pending'),p=pending.get(selId);
 if(!p){box.innerHTML='';return}
 box.innerHTML=`<span class=warn>${LABEL[p.decision]} in ${Math.max(0,Math.ceil((p.due-Date.now())/1000))} s</span> <button class=undo>Undo (u)</button>`;
 box.querySelector('.undo').onclick=()=>undo(selId)}
function decide(d){const a=alerts.get(selId);if(!a||pending.has(a.id))return;
 if(!allowed(a.state).includes(d)){say(`${LABEL[d]} is not open to you on an Alert that is ${STATE[a.state]||a.state}`,true);return}
 const id=a.id,note=$('note').value;
 const timer=setTimeout(()=>send(id,d,note),UNDO_MS);pending.set(id,{decision:d,due:Date.now()+UNDO_MS,timer});showPending();renderQueue()}
function undo(id){const p=pending.get(id);if(!p)return;clearTimeout(p.timer);pending.delete(id);showPending();renderQueue();say('Undone: nothing was recorded')}
async function send(id,d,note){pending.delete(id);showPending();
 try{update(await api('POST',`/api/v1/alerts/${encodeURIComponent(id)}/adjudications`,{decision:d,note}));if(id===selId)$('note').value=''}catch(x){say(x.message,true);renderQueue()}}
setInterval(()=>{if(pending.has(selId))showPending()},500);
function update(a){alerts.set(a.id,a);renderQueue();if(a.id===selId)renderDetail()}
// A new Alert: a sound and a flash (each switchable, kept per browser) and
// a line for screen readers; nothing is opened for the Operator.
const AC=window.AudioContext||window.webkitAudioContext;let audio=null;
for(const k of ['cue-sound','cue-flash']){const v=localStorage.getItem('vigil.'+k);if(v!==null)$(k).checked=v==='1';$(k).onchange=e=>localStorage.setItem('vigil.'+k,e.target.checked?'1':'0')}
function cue(a){$('announce').textContent=`New Alert at ${new Date(a.raised).toLocaleTimeString()} on camera ${a.camera}, score ${a.score.toFixed(3)}.`;
 document.body.dataset.cues=(+(document.body.dataset.cues||0)+1).toString();
 if($('cue-flash').checked){const q=$('queue-box');q.classList.remove('flash');void q.offsetWidth;q.classList.add('flash')}
 if($('cue-sound').checked&&AC){try{audio=audio||new AC();const o=audio.createOscillator(),g=audio.createGain();o.frequency.value=880;g.gain.value=0.2;
  o.connect(g).connect(audio.destination);o.start();o.stop(audio.currentTime+0.25)}catch(e){}}}
document.addEventListener('keydown',e=>{
 if(e.target.tagName==='INPUT'){if(e.key==='Escape')e.target.blur();return}
 if(e.ctrlKey||e.metaKey||e.altKey)return;
 const k=Object.keys(KEY).find(d=>KEY[d]===e.key);
 const ids=[...document.querySelectorAll('#queue .card')].map(c=>c.dataset.id),i=ids.indexOf(selId);
 if(k){decide(k)}else if(e.key==='u'){undo(selId)}else if(e.key==='s'){showScene()}
 else if(e.key==='j'&&ids.length){select(ids[i<0?0:Math.min(i+1,ids.length-1)])}else if(e.key==='k'&&ids.length){select(ids[i<0?0:Math.max(i-1,0)])}});
async function load(){const v=await api('GET',`/api/v1/deployments/${encodeURIComponent(dep)}`);mine=v.decisions||[];
 depState=v.deployment.state;threshold=v.deployment.authority?v.deployment.authority.threshold:null;keysHelp();
 const l=await api('GET',`/api/v1/deployments/${encodeURIComponent(dep)}/alerts`);l.forEach(a=>alerts.set(a.id,a));renderQueue();renderDetail();banner()}
const es=new EventSource(`/api/v1/deployments/${encodeURIComponent(dep)}/alerts/events`);
es.addEventListener('alert',e=>{const a=JSON.parse(e.data).alert;const fresh=!alerts.has(a.id);update(a);if(fresh&&a.state==='Raised')cue(a)});
// (Re)load on every (re)connection, so nothing raised while disconnected is missed.
es.onopen=()=>load().then(()=>{document.body.dataset.live='1'}).catch(x=>say(x.message,true));
// Suspended or a camera down: said at the top, where it cannot be missed.
function banner(){const b=$('banner');let m='';
 if(depState==='Suspended')m='Suspended: no faces are being compared. Alerts resume when Silver resumes the Deployment.';
 else if(depState!=='Active')m=`The Deployment is not Active (${depState}): no Alerts will arrive.`;
 else if(camerasDown.length)m=`Camera down: ${camerasDown.join('; ')}. Faces passing it are not being compared.`;
 b.hidden=!m;b.textContent=m;b.dataset.kind=depState==='Suspended'?'suspended':camerasDown.length?'camera-down':''}
async function health(){const v=await cameraPanel(dep,'health');
 if(v){depState=v.deployment_state||depState;camerasDown=v.cameras.filter(c=>!c.health||c.health.state!=='Streaming')
  .map(c=>`${c.name} (${(c.health&&c.health.state)||'not running'}${c.health&&c.health.last_error?': '+c.health.last_error:''})`);banner()}
 try{const s=await api('GET',`/api/v1/deployments/${encodeURIComponent(dep)}/stats`),t=s.stats,ci=s.true_recognition_rate_ci95,fi=s.false_alert_rate_ci95;
  $('rates').innerHTML=`<p>So far: ${t.passers_by} passers-by, ${t.alerts} Alerts, False Alert Rate <b>${pct(t.false_alert_rate)}</b>${fi?` (95 % CI ${pct(fi[0])} to ${pct(fi[1])})`:''}, `+
   `True Recognition Rate <b>${pct(t.true_recognition_rate)}</b>${ci?` (95 % CI ${pct(ci[0])} to ${pct(ci[1])}, ${t.blue_passes} Blue passes)`:''}.</p>`;
  const w=$('far-warning');w.hidden=!s.false_alert_rate_warning;
  w.textContent=fi?`False Alert Rate ${pct(t.false_alert_rate)} (95 % CI ${pct(fi[0])} to ${pct(fi[1])}): even the interval's lower end is above 1 in 1000. Tell Silver; consider raising the Threshold or suspending.`:''}catch(x){}}
health();setInterval(health,2000);
