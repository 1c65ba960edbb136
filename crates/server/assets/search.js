const result=document.getElementById('result');
// Candidates at or above the search's Threshold may be called possible
// matches; below it (or with no calibrated Threshold) only with a reason,
// which the audit log records. Several faces collapse to one open at a time.
function show(s){const id=encodeURIComponent(s.id),t=s.threshold;
 const below=c=>t==null||c.score<t;
 result.innerHTML=`<section><h2>Case ${esc(s.case_ref)} · ${esc(s.kind.toUpperCase())} · ${esc(s.media_kind)} · ${s.frames} frame(s)</h2>`+
 `<p id=threshold>${t==null?'<span class=warn>No calibrated Threshold: every possible match needs a recorded reason.</span>':`Threshold <b>${t.toFixed(3)}</b>: candidates below it are weak evidence.`}</p>`+
 (s.faces.length?'':'<p class=warn id=no-face>No usable face was found (failure to acquire). Try a clearer image.</p>')+
 s.faces.map((f,i)=>`<details class=face${i===0?' open':''}><summary>Face ${f.face+1} of ${s.faces.length} · ${f.candidates.length} candidates${f.candidates.length&&!below(f.candidates[0])?' · <b>best above the Threshold</b>':''}</summary>
 <div class=grid><div class="ref probe"><img alt="Probe face ${f.face+1}" src="/api/v1/rfr/searches/${id}/faces/${f.face}/probe"><div>Probe</div></div>`+
 f.candidates.map(c=>`<div class="ref cand${below(c)?' below':''}" data-face=${f.face} data-rank=${c.rank}><img alt="Candidate ${c.rank}" loading=lazy src="/api/v1/rfr/searches/${id}/faces/${f.face}/candidates/${c.rank}/image">
  <div>#${c.rank} · <b>${c.score.toFixed(3)}</b>${below(c)?' <span class=muted>below the Threshold</span>':''}</div><div class=subject>${esc(c.subject_ref)}</div>
  <div class=verdict>${c.review?esc(c.review.verdict.replace(/_/g,' ')):'not reviewed'}</div>
  <label>Note <input class=note value="${esc(c.review?c.review.note:'')}"></label>
  ${below(c)?`<label class=override hidden>Why, below the Threshold <input class=why></label>`:''}
  <button class=possible>${below(c)?'Possible match despite the score…':'Possible match'}</button><button class=notmatch>Not a match</button></div>`).join('')+'</div></details>').join('')+'</section>';
 result.querySelectorAll('.cand').forEach(c=>{const go=v=>async()=>{const body={verdict:v,note:c.querySelector('.note').value};
  const o=c.querySelector('.override');
  if(v==='possible_match'&&o){if(o.hidden){o.hidden=false;c.querySelector('.why').focus();c.querySelector('.possible').textContent='Record the possible match with this reason';return}
   body.below_threshold_reason=c.querySelector('.why').value}
  try{await api('POST',`/api/v1/rfr/searches/${id}/faces/${c.dataset.face}/candidates/${c.dataset.rank}/review`,body);
  c.querySelector('.verdict').textContent=v.replace(/_/g,' ')}catch(x){say(x.message,true)}};
  c.querySelector('.possible').onclick=go('possible_match');c.querySelector('.notmatch').onclick=go('not_a_match')})}
async function mine(){try{const l=await api('GET','/api/v1/rfr/searches');
 document.getElementById('mine').innerHTML=l.map(s=>`<li><a href="#${esc(s.id)}">${esc(s.case_ref)}</a> · ${esc(s.kind)} · ${when(s.created)}</li>`).join('')}catch(x){}}
async function open(id){if(id)try{show(await api('GET','/api/v1/rfr/searches/'+encodeURIComponent(id)))}catch(x){say(x.message,true)}}
window.onhashchange=()=>open(location.hash.slice(1));
document.getElementById('sf').onsubmit=async e=>{e.preventDefault();const busy=document.getElementById('busy');busy.hidden=false;
 try{const r=await fetch('/api/v1/rfr/searches',{method:'POST',headers:{'X-Vigil-CSRF':csrf},body:new FormData(e.target)});
  const j=await r.json();if(!r.ok)throw new Error(j.error?j.error.message:r.statusText);
  history.replaceState(null,'','#'+j.id);show(j);mine()}catch(x){say(x.message,true)}finally{busy.hidden=true}};
mine();open(location.hash.slice(1));
