// An Administrator's cameras: register, change, take out of service, and
// draw each Zone of Recognition on a snapshot frame. Credentials are sent
// once and never come back (the list says only whether some are stored).
let editing=null,zone=[],snap=null,cams=[];
const $=id=>document.getElementById(id);
function reason(what){const r=prompt('Reason to '+what+' (recorded in the audit log)');return r&&r.trim()?r.trim():null}
function size(){const m=/^(\d+)x(\d+)$/.exec($('cam-size').value.trim());return m?[+m[1],+m[2]]:[1280,720]}
function healthText(h){if(!h||h.state==='Idle')return 'not running';if(h.state==='NoWorker')return '<span class=bad>no worker</span>';
 const a=h.analysis==='Suspended'?' · <b>Suspended</b>':'';
 return `${esc(h.state)}${a} · ${(h.processed_fps??0).toFixed(1)} fps · ${esc(h.frames_dropped??0)} dropped · ${esc(h.reconnects??0)} reconnects${h.last_error?' · <span class=bad>'+esc(h.last_error)+'</span>':''}`}
async function load(){try{cams=await api('GET','/api/v1/cameras');
 $('camera-list').innerHTML=cams.map(c=>`<tr data-id="${esc(c.id)}"><td>${esc(c.name)}${c.disabled?' <span class=bad>(out of service)</span>':''}</td><td>${esc(c.url)}${c.has_credentials?' (credentials stored)':''}</td>
  <td>${esc(c.width)}x${esc(c.height)} at ${esc(c.fps)} fps</td><td>${c.zone.length?esc(c.zone.length)+' points':'whole frame'}</td><td>${c.record_footage?'recorded':'-'}</td>
  <td class=health>${healthText(c.health)}</td><td><button class=edit>Change</button>${c.disabled?'<button class=enable>Return to service</button>':'<button class=disable>Take out of service</button>'}</td></tr>`).join('');
 document.querySelectorAll('#camera-list tr').forEach(tr=>{const id=tr.dataset.id,c=cams.find(x=>x.id===id);
  tr.querySelector('.edit').onclick=()=>edit(c);
  const b=tr.querySelector('.disable,.enable');b.onclick=async()=>{const dis=b.classList.contains('disable');const r=reason((dis?'take out of service ':'return to service ')+c.name);if(!r)return;
   try{await api('POST','/api/v1/cameras/'+encodeURIComponent(id)+(dis?'/disable':'/enable'),{reason:r});load()}catch(x){say(x.message,true)}}});
 document.body.dataset.ready='1'}catch(x){say(x.message,true)}}
function draw(){const cv=$('zone-canvas'),g=cv.getContext('2d'),[w,h]=size();
 g.fillStyle='#222';g.fillRect(0,0,cv.width,cv.height);if(snap)g.drawImage(snap,0,0,cv.width,cv.height);
 const sx=cv.width/w,sy=cv.height/h;if(zone.length){g.strokeStyle='#ff0';g.fillStyle='rgba(255,255,0,0.2)';g.lineWidth=2;g.beginPath();
  zone.forEach(([x,y],i)=>i?g.lineTo(x*sx,y*sy):g.moveTo(x*sx,y*sy));g.closePath();g.fill();g.stroke();
  zone.forEach(([x,y])=>{g.fillStyle='#ff0';g.fillRect(x*sx-3,y*sy-3,6,6)})}
 $('zone-points').textContent=zone.length?zone.length+' points':'whole frame'}
$('zone-canvas').onclick=e=>{const cv=e.target,r=cv.getBoundingClientRect(),[w,h]=size();
 const x=Math.round((e.clientX-r.left)*w/r.width),y=Math.round((e.clientY-r.top)*h/r.height);
 if(zone.length<64){zone.push([Math.max(0,Math.min(w,x)),Math.max(0,Math.min(h,y))]);draw()}};
$('zone-clear').onclick=()=>{zone=[];draw()};
$('zone-snapshot').onclick=async()=>{if(!editing){say('Register the camera first, then change it to draw its Zone on a snapshot',true);return}
 try{const r=await fetch('/api/v1/cameras/'+encodeURIComponent(editing)+'/snapshot');if(!r.ok){const j=await r.json().catch(()=>null);throw new Error(j&&j.error?j.error.message:r.statusText)}
  const url=URL.createObjectURL(await r.blob());const img=new Image();img.onload=()=>{snap=img;draw();URL.revokeObjectURL(url);$('zone-canvas').dataset.snapshot='1'};img.src=url}catch(x){say(x.message,true)}};
function edit(c){editing=c.id;$('form-title').textContent='Change '+c.name;$('cam-save').textContent='Save';$('cam-cancel').hidden=false;$('clear-box').hidden=!c.has_credentials;
 $('cam-name').value=c.name;$('cam-url').value=c.url;$('cam-user').value='';$('cam-pass').value='';$('cam-clear').checked=false;$('cam-fps').value=c.fps;
 $('cam-size').value=c.width+'x'+c.height;$('cam-ied').value=c.min_inter_eye_distance;$('cam-faces').value=c.max_faces;$('cam-detect').value=c.detection_size||'';$('cam-footage').checked=c.record_footage;$('cam-loop').checked=c.looped;
 zone=c.zone.map(p=>[p[0],p[1]]);snap=null;draw();$('cam-name').focus()}
function reset(){editing=null;$('camera-form').reset();$('form-title').textContent='Register a camera';$('cam-save').textContent='Register';$('cam-cancel').hidden=true;$('clear-box').hidden=true;zone=[];snap=null;draw()}
$('cam-cancel').onclick=reset;
$('camera-form').onsubmit=async e=>{e.preventDefault();const [w,h]=size();
 const body={name:$('cam-name').value,url:$('cam-url').value,fps:+$('cam-fps').value,width:w,height:h,zone,min_inter_eye_distance:+$('cam-ied').value,
  max_faces:+$('cam-faces').value,record_footage:$('cam-footage').checked,looped:$('cam-loop').checked};
 if($('cam-detect').value)body.detection_size=+$('cam-detect').value;
 if($('cam-user').value)body.credentials={username:$('cam-user').value,password:$('cam-pass').value};
 try{if(editing){if($('cam-clear').checked)body.clear_credentials=true;await api('PATCH','/api/v1/cameras/'+encodeURIComponent(editing),body);say('Saved '+body.name)}
  else{const c=await api('POST','/api/v1/cameras',body);say('Registered '+c.name+': change it to draw its Zone on a snapshot')}
  reset();load()}catch(x){say(x.message,true)}};
draw();load();setInterval(load,3000);
