const result=document.getElementById('result');
function show(s){const id=encodeURIComponent(s.id);
 result.innerHTML=`<section><h3>Case ${esc(s.case_ref)} · ${esc(s.kind.toUpperCase())} · ${esc(s.media_kind)} · ${s.frames} frame(s)</h3>`+
 (s.faces.length?'':'<p class=warn id=no-face>No usable face was found (failure to acquire). Try a clearer image.</p>')+
 s.faces.map(f=>`<div><h4>Face ${f.face+1}</h4><div class=grid><div class=ref><img alt=Probe src="/api/v1/rfr/searches/${id}/faces/${f.face}/probe"><div>Probe</div></div>`+
 f.candidates.map(c=>`<div class="ref cand" data-face=${f.face} data-rank=${c.rank}><img alt="Candidate ${c.rank}" loading=lazy src="/api/v1/rfr/searches/${id}/faces/${f.face}/candidates/${c.rank}/image">
  <div>#${c.rank} · <b>${c.score.toFixed(3)}</b></div><div class=subject>${esc(c.subject_ref)}</div>
  <div class=verdict>${c.review?esc(c.review.verdict.replace(/_/g,' ')):'not reviewed'}</div>
  <input class=note placeholder=note value="${esc(c.review?c.review.note:'')}"><br>
  <button class=possible>Possible match</button><button class=notmatch>Not a match</button></div>`).join('')+'</div></div>').join('')+'</section>';
 result.querySelectorAll('.cand').forEach(c=>{const go=v=>async()=>{try{
  await api('POST',`/api/v1/rfr/searches/${id}/faces/${c.dataset.face}/candidates/${c.dataset.rank}/review`,{verdict:v,note:c.querySelector('.note').value});
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
