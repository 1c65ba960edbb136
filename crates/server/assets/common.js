const csrf=document.querySelector('meta[name=csrf]').content;
function esc(v){return String(v??'').replace(/[&<>"']/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]))}
async function api(method,path,body){const r=await fetch(path,{method,headers:{'Content-Type':'application/json','X-Vigil-CSRF':csrf},body:body===undefined?undefined:JSON.stringify(body)});
 const t=await r.text();const j=t?JSON.parse(t):null;if(!r.ok)throw new Error(j&&j.error?j.error.message:r.statusText);return j}
function when(ms){return ms==null?'-':new Date(ms).toLocaleString()}
function pct(x){return x==null?'-':(100*x).toFixed(3)+' %'}
function say(msg,bad){const m=document.getElementById('msg');m.textContent=msg;m.className=bad?'warn':'ok';m.hidden=false}
{const b=document.getElementById('logout-top');if(b)b.onclick=()=>api('POST','/api/v1/logout').finally(()=>location='/login')}
