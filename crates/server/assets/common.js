const csrf=document.querySelector('meta[name=csrf]').content;
function esc(v){return String(v??'').replace(/[&<>"']/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]))}
async function api(method,path,body){const r=await fetch(path,{method,headers:{'Content-Type':'application/json','X-Vigil-CSRF':csrf},body:body===undefined?undefined:JSON.stringify(body)});
 const t=await r.text();const j=t?JSON.parse(t):null;if(!r.ok)throw new Error(j&&j.error?j.error.message:r.statusText);return j}
function when(ms){return ms==null?'-':new Date(ms).toLocaleString()}
// The Deployment's states as people say them (never `CancellationFiled`).
const STATES={Draft:'Draft',Submitted:'Submitted',Consulted:'Consulted (no veto)',Authorised:'Authorised',Active:'Active',Suspended:'Suspended',
 Concluded:'Concluded',CancellationFiled:'Cancellation Report filed',Refused:'Refused',Vetoed:'Vetoed',Terminated:'Terminated'};
function stateName(s){return STATES[s]||s}
function pct(x){return x==null?'-':(100*x).toFixed(3)+' %'}
function say(msg,bad){const m=document.getElementById('msg');m.textContent=msg;m.className=bad?'warn':'ok';m.hidden=false}
{const b=document.getElementById('logout-top');if(b)b.onclick=()=>api('POST','/api/v1/logout').finally(()=>location='/login')}
// The live panel of a Deployment's cameras (operator and Deployment pages):
// state, whether analysis is Suspended, fps, drops, reconnects, last error.
async function cameraPanel(dep,el){try{const v=await api('GET',`/api/v1/deployments/${encodeURIComponent(dep)}/cameras`);
 const box=document.getElementById(el);if(!v.cameras.length){box.innerHTML='<p class=muted>No cameras named in the Application.</p>';return v}
 box.innerHTML='<table class=cameras><tr><th>Camera</th><th>State</th><th>Analysis</th><th>fps</th><th>Dropped</th><th>Reconnects</th><th>Passers-by</th><th>Alerts</th><th>RT p95</th><th>Last error</th></tr>'+
 v.cameras.map(c=>{const h=c.health||{};const n=x=>x==null?'-':esc(x);
  const analysis=h.analysis||(v.deployment_state==='Suspended'?'Suspended':'-');
  return `<tr data-camera="${esc(c.name)}"><td>${esc(c.name)}</td><td class=cam-state>${esc(h.state||'Idle')}</td><td class=cam-analysis>${esc(analysis)}</td><td>${h.processed_fps==null?'-':h.processed_fps.toFixed(1)}</td>
  <td>${n(h.frames_dropped)}</td><td>${n(h.reconnects)}</td><td>${n(h.passers_by)}</td><td>${n(h.alerts)}</td><td>${h.p95_recognition_time_ms==null?'-':h.p95_recognition_time_ms.toFixed(0)+' ms'}</td><td class=bad>${n(h.last_error)}</td></tr>`}).join('')+'</table>'+watchlistLine(v.cameras);
 box.dataset.ready='1';return v}catch(x){return null}}
// How many Watchlist entries the running cameras match, and which they
// cannot and why: nobody on the Watchlist is silently unmatched.
function watchlistLine(cams){const w=cams.map(c=>c.health&&c.health.watchlist).filter(Boolean);if(!w.length)return '';
 const not=new Map();w.forEach(x=>x.not_live.forEach(n=>not.set(n.entry,n)));const live=Math.max(...w.map(x=>x.live));
 return `<p class=watchlist-live>Watchlist: <b>${live}</b> entr${live===1?'y':'ies'} live on the cameras`+(not.size?`; <span class=bad>${not.size} not live</span>: `+
  [...not.values()].map(n=>`${esc(n.subject)} (${esc(n.reason)})`).join('; '):'')+'.</p>'}
