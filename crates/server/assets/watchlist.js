const dep=document.getElementById('dep').textContent;
const $=id=>document.getElementById(id);
let entries=[],offset=0,total=0;const PAGE=24;
// How the running cameras hold each entry: live, or not live and why. No
// entry is silently unmatched.
async function liveStatus(){let cams=[];try{cams=(await api('GET',`/api/v1/deployments/${dep}/cameras`)).cameras}catch(x){}
 const w=cams.map(c=>c.health&&c.health.watchlist).filter(Boolean);
 const notLive=new Map();w.forEach(x=>x.not_live.forEach(n=>notLive.set(n.entry,n.reason)));
 const live=w.length?Math.max(...w.map(x=>x.live)):0;
 $('live-summary').innerHTML=!w.length?'<span class=muted>No camera is running this Watchlist now.</span>':
  `<b>${live} of ${entries.length}</b> entries live on the cameras${notLive.size?`; <span class=bad>${notLive.size} not live</span> (see below)`:''}${live+notLive.size<entries.length?' · updating':''}.`;
 document.querySelectorAll('#entries tr').forEach(tr=>{const why=notLive.get(tr.dataset.id),td=tr.querySelector('.live');
  td.innerHTML=!w.length?'<span class=muted>not running</span>':why?`<span class=bad>not live</span>: ${esc(why)}`:'<span class=ok>live</span>'})}
async function load(){try{const w=await api('GET',`/api/v1/deployments/${dep}/watchlist?passers_by=${encodeURIComponent($('passers').value||0)}`);
 entries=w.entries;const l=w.expected_load;$('load').innerHTML=`<p>${w.entries.length} subjects, ${w.images} images, Threshold ${w.threshold==null?'not set':w.threshold.toFixed(3)}. `+
  (l?`Expected false Alerts for ${w.passers_by} passers-by: <b id=expected>${l.expected_false_alerts.toFixed(2)}</b> (per-comparison false match rate ${l.false_match_rate_per_comparison.toExponential(2)}).`:'<span class=muted>No calibration for this recogniser at this Threshold: expected load unknown.</span>')+'</p>';
 $('entries').innerHTML=w.entries.map(e=>`<tr data-id="${esc(e.id)}" data-subject="${esc(e.subject_ref)}"><td>${esc(e.subject_ref)}</td><td>${e.category}</td><td>${esc(e.reason)}${e.quality_override?`<br><span class=warn>enrolled by override: ${esc(e.quality_override)}</span>`:''}</td><td>${esc(e.source)}</td>
  <td>${e.blue?'yes':''}</td><td class=live></td><td>${e.blue?`<button class=pass data-id="${esc(e.id)}">Volunteer walked past (last 2 min)</button>`:''}<button class=remove>Remove</button></td></tr>`).join('');
 document.querySelectorAll('button.pass').forEach(b=>b.onclick=async()=>{try{const p=await api('POST',`/api/v1/deployments/${dep}/blue-passes`,{entry_id:b.dataset.id,since:Date.now()-120000});
  say(p.recognised?'Pass recorded: recognised':'Pass recorded: NOT recognised',!p.recognised)}catch(x){say(x.message,true)}});
 document.querySelectorAll('button.remove').forEach(b=>b.onclick=async()=>{const tr=b.closest('tr');
  const why=prompt(`Why does ${tr.dataset.subject} come off the Watchlist? (recorded in the log)`);if(!why||!why.trim())return;
  try{await api('POST',`/api/v1/deployments/${dep}/watchlist/${encodeURIComponent(tr.dataset.id)}/removal`,{reason:why});say(`${tr.dataset.subject} removed`);load()}catch(x){say(x.message,true)}});
 liveStatus()}catch(x){say(x.message,true)}}
// The reference store, one page at a time (it may hold millions).
async function refs(){let page;try{page=await api('GET',`/api/v1/deployments/${dep}/reference-images?q=${encodeURIComponent($('ref-q').value)}&offset=${offset}&limit=${PAGE}`)}catch(x){return}
 total=page.total;$('compile').hidden=false;
 $('ref-count').textContent=total?`${offset+1}–${Math.min(offset+PAGE,total)} of ${total}`:'no images match';
 $('ref-prev').disabled=offset===0;$('ref-next').disabled=offset+PAGE>=total;
 $('refs').innerHTML=page.images.map(r=>{const q=r.quality,ok=q&&q.passed;
  const verdict=q==null?'<span class=muted>no verdict (face engine not loaded)</span>':ok?`<span class=ok>usable</span> IED ${q.quality.inter_eye_distance.toFixed(0)} px`:`<span class=bad>unsuitable</span>: ${esc(q.reasons.join('; '))}`;
  return `<div class=ref data-id="${esc(r.image.id)}"><img alt="${esc(r.image.subject_ref)}" src="/api/v1/deployments/${dep}/reference-images/${esc(r.image.id)}">
  <div><label><input type=checkbox class=pick value="${esc(r.image.id)}"> <b>${esc(r.image.subject_ref)}</b></label></div><div>${verdict}</div><div class=muted>${esc(r.image.source)}</div></div>`}).join('')}
$('ref-search').onsubmit=e=>{e.preventDefault();offset=0;refs()};
$('ref-prev').onclick=()=>{offset=Math.max(0,offset-PAGE);refs()};$('ref-next').onclick=()=>{offset+=PAGE;refs()};
$('add').onclick=async()=>{const ids=[...document.querySelectorAll('input.pick:checked')].map(c=>c.value);
 const body={reference_image_ids:ids,category:$('category').value,reason:$('why').value,blue:$('blue').checked};
 if(!$('override-box').hidden&&$('override').value.trim())body.quality_override=$('override').value;
 try{await api('POST',`/api/v1/deployments/${dep}/watchlist`,body);say('Added to the Watchlist');
  $('override-box').hidden=true;$('override').value='';document.querySelectorAll('input.pick').forEach(c=>c.checked=false);load()}
 catch(x){if(/unsuitable/.test(x.message)&&!body.quality_override){$('override-why').textContent=x.message;$('override-box').hidden=false;$('override').focus()}
  say(x.message,true)}};
$('recalc').onclick=load;
setInterval(liveStatus,3000);
Promise.all([load(),refs()]).then(()=>{document.body.dataset.ready='1'});
