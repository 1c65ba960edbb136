const dep=document.getElementById('dep').textContent;
const queue=document.getElementById('queue'); let sel=0;
function quality(q){try{const v=JSON.parse(q);return `IED ${v.inter_eye_distance.toFixed(0)} px · yaw ${v.yaw_degrees.toFixed(0)}° · sharpness ${v.sharpness.toFixed(0)}`}catch(e){return ''}}
function card(a){let c=document.getElementById('a-'+a.id);
 if(!c){c=document.createElement('div');c.className='card';c.id='a-'+a.id;queue.prepend(c)}
 const id=encodeURIComponent(a.id), t=new Date(a.raised).toLocaleTimeString();
 c.innerHTML=`<img alt=Probe src="/api/v1/alerts/${id}/images/probe"><img alt=Candidate src="/api/v1/alerts/${id}/images/candidate">
 <div><div>Score <b>${a.score.toFixed(3)}</b> · camera ${esc(a.camera)} · ${t} · RT ${a.recognition_time_ms} ms</div>
 <div class=muted>${esc(quality(a.quality))}</div>
 <div>Subject ${esc(a.subject_ref??'(deleted)')}${a.blue?' (Blue Watchlist)':''}</div><div class=state>${a.state}</div>
 <input class=note placeholder="note" size=40></div>`;c.dataset.id=a.id;mark()}
function cards(){return [...queue.querySelectorAll('.card')]}
function mark(){cards().forEach((c,i)=>c.classList.toggle('sel',i===sel))}
async function decide(d){const c=cards()[sel];if(!c)return;
 try{card(await api('POST',`/api/v1/alerts/${encodeURIComponent(c.dataset.id)}/adjudications`,{decision:d,note:c.querySelector('.note').value}))}catch(x){say(x.message,true)}}
document.addEventListener('keydown',e=>{if(e.target.tagName==='INPUT')return;
 const k={f:'FalseAlert',e:'Engage',t:'ConfirmTrue',x:'ConfirmFalse'}[e.key];
 if(k){decide(k)}else if(e.key==='j'){sel=Math.min(sel+1,cards().length-1);mark()}else if(e.key==='k'){sel=Math.max(sel-1,0);mark()}});
function load(){return fetch(`/api/v1/deployments/${dep}/alerts`).then(r=>r.json()).then(l=>l.reverse().forEach(card))}
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
