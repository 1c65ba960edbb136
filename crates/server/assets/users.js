// An Administrator's people: add, disable, enable, reset password or
// second factor. Every change asks for a reason, which the audit log keeps.
function reason(what){const r=prompt('Reason to '+what+' (recorded in the audit log)');return r&&r.trim()?r.trim():null}
async function load(){try{const l=await api('GET','/api/v1/users');
 document.getElementById('accounts').innerHTML=l.map(a=>`<tr data-id="${esc(a.id)}"><td>${esc(a.id)}</td><td>${esc(a.display_name)}</td><td>${esc(a.rank)}</td>
  <td>${esc(a.roles.join(', '))}</td><td>${a.disabled?'<span class=bad>disabled</span>':(a.must_change_password?'must set a password':'<span class=ok>active</span>')}</td>
  <td>${a.second_factor_enrolled?'enrolled':'-'}</td>
  <td><button class=edit>Change</button>${a.disabled?'<button class=enable>Enable</button>':'<button class=disable>Disable</button>'}<button class=reset-pw>Reset password</button><button class=reset-2fa>Reset second factor</button></td></tr>`).join('');
 document.querySelectorAll('#accounts tr').forEach(tr=>{const id=tr.dataset.id,u='/api/v1/users/'+encodeURIComponent(id);
  const act=(sel,path,what,after)=>{const b=tr.querySelector(sel);if(b)b.onclick=async()=>{const r=reason(what+' '+id);if(!r)return;
   try{const v=await api('POST',u+path,{reason:r});if(after)after(v);say(what+': done');load()}catch(x){say(x.message,true)}}};
  tr.querySelector('.edit').onclick=()=>edit(l.find(a=>a.id===id));
  act('.disable','/disable','disable');act('.enable','/enable','enable');
  act('.reset-pw','/reset-password','reset the password of',v=>otp(v.user,v.one_time_password));
  act('.reset-2fa','/reset-second-factor','reset the second factor of')})
 document.body.dataset.ready='1'}catch(x){say(x.message,true)}}
let editing=null;
function edit(a){editing=a.id;document.getElementById('ed-user').textContent=a.id;document.getElementById('ed-name').value=a.display_name;
 document.getElementById('ed-rank').value=a.rank;document.querySelectorAll('.ed-role').forEach(c=>c.checked=a.roles.includes(c.value));
 document.getElementById('ed-reason').value='';document.getElementById('edit-box').hidden=false;document.getElementById('ed-name').focus()}
document.getElementById('ed-cancel').onclick=()=>{document.getElementById('edit-box').hidden=true};
document.getElementById('edit-user').onsubmit=async e=>{e.preventDefault();
 const roles=[...document.querySelectorAll('.ed-role:checked')].map(c=>c.value);
 try{await api('PATCH','/api/v1/users/'+encodeURIComponent(editing),{display_name:document.getElementById('ed-name').value,
  rank:document.getElementById('ed-rank').value,roles,reason:document.getElementById('ed-reason').value});
  document.getElementById('edit-box').hidden=true;say('Changed '+editing);load()}catch(x){say(x.message,true)}};
function otp(user,p){document.getElementById('otp-user').textContent=user;document.getElementById('otp').textContent=p;document.getElementById('otp-box').hidden=false}
document.getElementById('new-user').onsubmit=async e=>{e.preventDefault();
 const roles=[...document.querySelectorAll('.nu-role:checked')].map(c=>c.value);
 try{const v=await api('POST','/api/v1/users',{id:document.getElementById('nu-id').value,display_name:document.getElementById('nu-name').value,
  rank:document.getElementById('nu-rank').value,roles,reason:document.getElementById('nu-reason').value});
  otp(v.account.id,v.one_time_password);e.target.reset();load()}catch(x){say(x.message,true)}};
load();
