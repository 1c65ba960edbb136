const dep=document.getElementById('dep').textContent;
const queue=document.getElementById('queue');
// The selection is an Alert id, never a list position: an Alert arriving
// while the Operator reads another must not move what a key acts on.
let selId=null, mine=[];
// A decision waits UNDO_MS before it is sent, bound to the Alert it was
// taken on; Undo (or u) in that window cancels it. Once sent it is final.
const UNDO_MS=5000; const pending=new Map();
const LABEL={FalseAlert:'False Alert',Engage:'Engage',ConfirmTrue:'Confirmed True',ConfirmFalse:'Confirmed False'};
const KEY={FalseAlert:'f',Engage:'e',ConfirmTrue:'t',ConfirmFalse:'x'};
function quality(q){try{const v=JSON.parse(q);return `IED ${v.inter_eye_distance.toFixed(0)} px · yaw ${v.yaw_degrees.toFixed(0)}° · sharpness ${v.sharpness.toFixed(0)}`}catch(e){return ''}}
function allowed(state){return mine.filter(d=>d.applies_to===state).map(d=>d.decision)}
function card(a){let c=document.getElementById('a-'+a.id);
 if(!c){c=document.createElement('div');c.className='card';c.id='a-'+a.id;queue.prepend(c);c.onclick=e=>{if(!e.target.closest('button,input'))select(a.id)}}
 const id=encodeURIComponent(a.id), t=new Date(a.raised).toLocaleTimeString();
 const note=c.querySelector('.note')?.value??'';
 c.innerHTML=`<img alt=Probe src="/api/v1/alerts/${id}/images/probe"><img alt=Candidate src="/api/v1/alerts/${id}/images/candidate">
 <div><div>Score <b>${a.score.toFixed(3)}</b> · camera ${esc(a.camera)} · ${t} · RT ${a.recognition_time_ms} ms</div>
 <div class=muted>${esc(quality(a.quality))}</div>
 <div>Subject ${esc(a.subject_ref??'(deleted)')}${a.blue?' (Blue Watchlist)':''}</div><div class=state>${a.state}</div>
 <div class=decide>${allowed(a.state).map(d=>`<button class=decision data-decision="${d}">${LABEL[d]} (${KEY[d]})</button>`).join(' ')}</div>
 <div class=pending hidden></div><input class=note placeholder="note" size=40>
 <div><a class=footage href="/api/v1/alerts/${id}/footage" download>Footage around this Alert</a> <span class=muted>(exported clips are watermarked and audited)</span></div></div>`;
 c.querySelector('.note').value=note;c.dataset.id=a.id;c.dataset.state=a.state;
 c.querySelectorAll('button.decision').forEach(b=>b.onclick=()=>{select(a.id);decide(b.dataset.decision)});
 showPending(a.id);if(selId===null)selId=a.id;mark()}
function cards(){return [...queue.querySelectorAll('.card')]}
function select(id){selId=id;mark()}
function mark(){cards().forEach(c=>c.classList.toggle('sel',c.dataset.id===selId))}
function showPending(id){const c=document.getElementById('a-'+id);if(!c)return;const p=pending.get(id),box=c.querySelector('.pending');
 if(!p){box.hidden=true;box.innerHTML='';return}
 box.hidden=false;box.innerHTML=`${LABEL[p.decision]} in ${Math.max(0,Math.ceil((p.due-Date.now())/1000))} s <button class=undo>Undo (u)</button>`;
 box.querySelector('.undo').onclick=()=>undo(id)}
function decide(d){const c=document.getElementById('a-'+selId);if(!c||pending.has(selId))return;
 if(!allowed(c.dataset.state).includes(d)){say(`${LABEL[d]} is not open to you on an Alert that is ${c.dataset.state}`,true);return}
 const id=selId,note=c.querySelector('.note').value;
 const timer=setTimeout(()=>send(id,d,note),UNDO_MS);pending.set(id,{decision:d,due:Date.now()+UNDO_MS,timer});showPending(id)}
function undo(id){const p=pending.get(id);if(!p)return;clearTimeout(p.timer);pending.delete(id);showPending(id);say('Undone: nothing was recorded')}
async function send(id,d,note){pending.delete(id);showPending(id);
 try{card(await api('POST',`/api/v1/alerts/${encodeURIComponent(id)}/adjudications`,{decision:d,note}))}catch(x){say(x.message,true)}}
setInterval(()=>pending.forEach((_,id)=>showPending(id)),500);
document.addEventListener('keydown',e=>{
 if(e.target.tagName==='INPUT'){if(e.key==='Escape')e.target.blur();return}
 const k=Object.keys(KEY).find(d=>KEY[d]===e.key);
 const ids=cards().map(c=>c.dataset.id),i=ids.indexOf(selId);
 if(k){decide(k)}else if(e.key==='u'){undo(selId)}
 else if(e.key==='j'&&ids.length){select(ids[Math.min(i+1,ids.length-1)])}else if(e.key==='k'&&ids.length){select(ids[Math.max(i-1,0)])}});
function load(){return api('GET',`/api/v1/deployments/${dep}`).then(v=>{mine=v.decisions||[]})
 .then(()=>fetch(`/api/v1/deployments/${dep}/alerts`)).then(r=>r.json()).then(l=>l.reverse().forEach(card))}
const es=new EventSource(`/api/v1/deployments/${dep}/alerts/events`);
es.addEventListener('alert',e=>card(JSON.parse(e.data).alert));
// (Re)load on every (re)connection, so nothing raised while disconnected is missed.
es.onopen=()=>load().then(()=>{document.body.dataset.live='1'});
async function health(){cameraPanel(dep,'health');
 try{const s=await api('GET',`/api/v1/deployments/${dep}/stats`),t=s.stats,ci=s.true_recognition_rate_ci95;
  document.getElementById('rates').innerHTML=`<p>So far: ${t.passers_by} passers-by, ${t.alerts} Alerts, False Alert Rate <b>${pct(t.false_alert_rate)}</b>, `+
   `True Recognition Rate <b>${pct(t.true_recognition_rate)}</b>${ci?` (95 % CI ${pct(ci[0])} to ${pct(ci[1])}, ${t.blue_passes} Blue passes)`:''}.</p>`;
  const w=document.getElementById('far-warning');w.hidden=!s.false_alert_rate_warning;
  w.textContent=`False Alert Rate ${pct(t.false_alert_rate)} is above 1 in 1000: tell Silver; consider raising the Threshold or suspending.`}catch(x){}}
health();setInterval(health,2000);
