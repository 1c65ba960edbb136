const dep=document.getElementById('dep').textContent;
async function load(){try{const w=await api('GET',`/api/v1/deployments/${dep}/watchlist?passers_by=${encodeURIComponent(document.getElementById('passers').value||0)}`);
 const l=w.expected_load;document.getElementById('load').innerHTML=`<p>${w.entries.length} subjects, ${w.images} images, Threshold ${w.threshold??'not set'}. `+
  (l?`Expected false Alerts for ${w.passers_by} passers-by: <b id=expected>${l.expected_false_alerts.toFixed(2)}</b> (per-comparison false match rate ${l.false_match_rate_per_comparison.toExponential(2)}).`:'<span class=muted>No calibration for this recogniser at this Threshold: expected load unknown.</span>')+'</p>';
 document.getElementById('entries').innerHTML=w.entries.map(e=>`<tr><td>${esc(e.subject_ref)}</td><td>${e.category}</td><td>${esc(e.reason)}</td><td>${esc(e.source)}</td>
  <td>${e.blue?'yes':''}</td><td>${e.blue?`<button class=pass data-id="${esc(e.id)}">Volunteer walked past (last 2 min)</button>`:''}</td></tr>`).join('');
 document.querySelectorAll('button.pass').forEach(b=>b.onclick=async()=>{try{const p=await api('POST',`/api/v1/deployments/${dep}/blue-passes`,{entry_id:b.dataset.id,since:Date.now()-120000});
  say(p.recognised?'Pass recorded: recognised':'Pass recorded: NOT recognised',!p.recognised)}catch(x){say(x.message,true)}})}catch(x){say(x.message,true)}}
async function refs(){let list;try{list=await api('GET',`/api/v1/deployments/${dep}/reference-images`)}catch(x){return}
 document.getElementById('compile').hidden=false;
 document.getElementById('refs').innerHTML=list.map(r=>{const q=r.quality,ok=q&&q.passed;
  const verdict=q==null?'<span class=muted>no verdict (face engine not loaded)</span>':ok?`<span class=ok>usable</span> IED ${q.quality.inter_eye_distance.toFixed(0)} px`:`<span class=bad>unsuitable</span>: ${esc(q.reasons.join('; '))}`;
  return `<div class=ref data-id="${esc(r.image.id)}"><img alt="${esc(r.image.subject_ref)}" src="/api/v1/deployments/${dep}/reference-images/${esc(r.image.id)}">
  <div><label><input type=checkbox class=pick value="${esc(r.image.id)}"> <b>${esc(r.image.subject_ref)}</b></label></div><div>${verdict}</div><div class=muted>${esc(r.image.source)}</div></div>`}).join('')}
document.getElementById('add').onclick=async()=>{const ids=[...document.querySelectorAll('input.pick:checked')].map(c=>c.value);
 try{await api('POST',`/api/v1/deployments/${dep}/watchlist`,{reference_image_ids:ids,category:document.getElementById('category').value,
  reason:document.getElementById('why').value,blue:document.getElementById('blue').checked});say('Added to the Watchlist');
  document.querySelectorAll('input.pick').forEach(c=>c.checked=false);load()}catch(x){say(x.message,true)}};
document.getElementById('recalc').onclick=load;
Promise.all([load(),refs()]).then(()=>{document.body.dataset.ready='1'});
