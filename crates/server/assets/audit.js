const $=id=>document.getElementById(id);
const ACTION={'alert.image.view':'opened an Alert image','alert.image.denied':'was refused an Alert image','alert.adjudicate':'adjudicated an Alert','alert.raise':'raised an Alert','footage.export':'exported footage'};
let oldest=null;
function query(){const f=$('filter'),p=new URLSearchParams();
 for(const k of ['actor','deployment','action','target'])if(f.elements[k].value)p.set(k,f.elements[k].value);
 if(f.elements.from.value)p.set('from_ms',new Date(f.elements.from.value).getTime());
 if(f.elements.to.value)p.set('to_ms',new Date(f.elements.to.value).getTime());return p}
async function load(more){const p=query();p.set('limit','100');if(more&&oldest!=null)p.set('before_seq',oldest);
 try{const l=await api('GET','/api/v1/audit?'+p);const rows=l.map(e=>`<tr data-seq="${e.seq}" data-action="${esc(e.action)}" data-actor="${esc(e.actor)}"><td>${e.seq}</td><td>${esc(when(e.at))}</td><td>${esc(e.actor)}</td>
  <td>${esc(e.action)}${ACTION[e.action]?` <span class=muted>(${ACTION[e.action]})</span>`:''}</td><td><code>${esc(e.target)}</code></td><td>${esc(e.detail)}</td></tr>`).join('');
  if(more)$('entries').insertAdjacentHTML('beforeend',rows);else $('entries').innerHTML=rows||'<tr><td colspan=6 class=muted>No entries match.</td></tr>';
  if(l.length)oldest=l[l.length-1].seq;$('more').hidden=l.length<100;document.body.dataset.ready='1'}catch(x){say(x.message,true)}}
$('filter').onsubmit=e=>{e.preventDefault();oldest=null;load(false)};$('more').onclick=()=>load(true);
$('verify').onclick=async()=>{let checkpoint=null;const t=$('kept').value.trim();
 if(t){try{checkpoint=JSON.parse(t)}catch(e){say('The checkpoint is not JSON',true);return}}
 $('verdict').textContent='Verifying…';
 try{const v=await api('POST','/api/v1/audit/verify',{checkpoint});const c=v.latest_checkpoint;
  $('verdict').innerHTML=`<p class=${v.ok?'ok':'bad'} id=chain-result>${v.ok?'Intact':'NOT intact'}: ${v.entries} entries, ${v.records_checked} bound records checked${v.checkpoint!=null?`, against your checkpoint at entry ${v.checkpoint}`:''}.</p>`+
   (v.problems.length?'<ul>'+v.problems.map(p=>`<li>${esc(p)}</li>`).join('')+'</ul>':'')+
   `<p>Latest checkpoint: ${c?`entry ${c.seq}, taken ${esc(when(c.at))} by ${esc(c.actor)}`:'none taken yet'}.</p>`}catch(x){$('verdict').textContent='';say(x.message,true)}};
$('take').onclick=async()=>{try{const c=await api('POST','/api/v1/audit/checkpoint');const p=$('new-checkpoint');p.hidden=false;
 p.textContent=JSON.stringify(c,null,1);say('Checkpoint taken: keep this text outside the system (it proves the log later)')}catch(x){say(x.message,true)}};
async function retention(){try{const r=await api('GET','/api/v1/retention');
 $('retention').innerHTML='<table><thead><tr><th>Data</th><th>Kept now</th><th>Overdue (next sweep)</th><th>Held</th><th>Next deletion</th></tr></thead><tbody>'+
  r.kinds.map(k=>`<tr data-kind="${esc(k.kind)}"><td>${esc(k.kind)}</td><td>${k.records}</td><td>${k.overdue}</td><td>${k.held}</td><td>${esc(when(k.next_due))}</td></tr>`).join('')+'</tbody></table>'+
  '<h3>Legal holds in force</h3>'+(r.holds.length?'<table><thead><tr><th>What</th><th>Why</th><th>By</th><th>Since</th></tr></thead><tbody>'+
  r.holds.map(h=>`<tr class=hold><td><code>${esc(h.target)}</code></td><td>${esc(h.reason)}</td><td>${esc(h.placed_by)}</td><td>${esc(when(h.placed_at))}</td></tr>`).join('')+'</tbody></table>':'<p class=muted>None.</p>')+
  '<h3>Due soonest</h3><ul>'+r.soonest.slice(0,20).map(i=>`<li>${esc(i.target)}: ${esc(when(i.due_at))}</li>`).join('')+'</ul>'}catch(x){say(x.message,true)}}
load(false);retention();
