// One form for every step of a login: password, then (when the account
// asks for it) a new password and the second factor; the server says
// which step is missing by its error code.
const f=document.getElementById('f'),err=document.getElementById('err');
// Back to the console page first asked for; only a path of this console
// (never another origin, `//host` or a `\` trick) is followed.
function next(){const n=new URLSearchParams(location.search).get('next')||'';
 return /^\/console(\/[A-Za-z0-9._~%\/-]*)?$/.test(n)&&!n.includes('//')?n:'/console'}
function show(id,on){document.getElementById(id).hidden=!on}
function fail(m){err.hidden=false;err.textContent=m}
f.onsubmit=async e=>{e.preventDefault();err.hidden=true;
 const body={user:document.getElementById('user').value,password:document.getElementById('password').value};
 if(!document.getElementById('np-box').hidden){const a=document.getElementById('new-password').value,b=document.getElementById('new-password2').value;
  if(a!==b){fail('The two new passwords differ');return}body.new_password=a}
 if(!document.getElementById('totp-box').hidden)body.totp=document.getElementById('totp').value;
 const r=await fetch('/api/v1/login',{method:'POST',headers:{'Content-Type':'application/json'},body:JSON.stringify(body)});
 if(r.ok){location=next();return}
 let j=null;try{j=await r.json()}catch(x){}
 const code=j&&j.error?j.error.code:'';
 if(r.status===429){fail('Too many attempts: wait and try again');return}
 if(code==='password_change_required'){show('np-box',true);fail(j.error.message);return}
 if(code==='weak_password'){show('np-box',true);fail(j.error.message);return}
 if(code==='totp_enrolment_required'){show('enrol-box',true);show('totp-box',true);
  document.getElementById('qr').innerHTML=j.enrolment.qr_svg;document.getElementById('totp-secret').textContent=j.enrolment.secret;
  document.body.dataset.enrol='1';fail(j.error.message);return}
 if(code==='totp_required'||code==='bad_totp'){show('totp-box',true);fail(j.error.message);return}
 if(code==='account_disabled'){fail(j.error.message);return}
 fail('Wrong user or password')};
