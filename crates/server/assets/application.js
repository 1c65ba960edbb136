// Registered cameras offered as checkboxes; an Application names the ones
// it will use.
let chosenCameras=[];
async function loadCameraChoices(){const box=document.getElementById('camera-choices');if(!box)return;
 try{const l=await api('GET','/api/v1/cameras');const usable=l.filter(c=>!c.disabled||chosenCameras.includes(c.id));
  box.innerHTML=usable.length?usable.map(c=>`<label><input type="checkbox" class="app-camera" value="${esc(c.id)}"${chosenCameras.includes(c.id)?' checked':''}> ${esc(c.name)}</label> `).join(''):'no cameras registered (an Administrator registers them)'}catch(x){}}
function readApp(){const f=document.getElementById('app'),a={assessments:{}};
 a.cameras=[...document.querySelectorAll('.app-camera:checked')].map(c=>c.value);
 for(const el of f.elements){if(!el.name)continue;const v=el.type==='datetime-local'?new Date(el.value).getTime():el.value;
  const [x,y]=el.name.split('.');if(y)a[x][y]=v;else a[x]=v}return a}
function fillApp(a){const f=document.getElementById('app');chosenCameras=a.cameras||[];
 document.querySelectorAll('.app-camera').forEach(c=>c.checked=chosenCameras.includes(c.value));for(const el of f.elements){if(!el.name)continue;
 const [x,y]=el.name.split('.');const v=y?a[x][y]:a[x];
 if(el.type==='datetime-local'){const d=new Date(v-new Date().getTimezoneOffset()*60000);el.value=d.toISOString().slice(0,16)}else el.value=v??''}}

loadCameraChoices();
