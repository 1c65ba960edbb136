document.getElementById('app').onsubmit=async e=>{e.preventDefault();
 try{const v=await api('POST','/api/v1/deployments',readApp());location='/console/deployments/'+encodeURIComponent(v.deployment.id)}catch(x){say(x.message,true)}};
