document.getElementById('f').onsubmit=async e=>{e.preventDefault();
 const user=document.getElementById('user'),password=document.getElementById('password'),err=document.getElementById('err');
 const r=await fetch('/api/v1/login',{method:'POST',headers:{'Content-Type':'application/json'},
  body:JSON.stringify({user:user.value,password:password.value})});
 if(r.ok){location='/console'}else{err.hidden=false;err.textContent=r.status===429?'Too many attempts: wait and try again':'Wrong user or password'}};
