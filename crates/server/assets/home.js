document.getElementById('logout').onclick=()=>api('POST','/api/v1/logout').finally(()=>location='/login');
