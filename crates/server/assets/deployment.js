let suggested=false;
const dep=document.getElementById('dep').textContent;
const LABEL={submit:'Submit',consult:'Record consultation (no veto)',veto:'Veto',refuse:'Refuse',authorise:'Authorise',
 authorise_urgently:'Authorise urgently',confirm_urgent_authority:'Confirm urgent authority',stop_urgent_authority:'Stop urgent authority',
 activate:'Activate',suspend:'Suspend',resume:'Resume',terminate:'Terminate',conclude:'Conclude',gold_review:'Record Gold review'};
const NEEDS_WA=['authorise','authorise_urgently'];
const REPORT=[['circumstances_of_conclusion','Circumstances of conclusion',1],['resources_used','Resources used',1],['issues','Issues',1],
 ['alerts','Alerts'],['false_alerts','False Alerts'],['engagements','Engagements'],['confirmed_true','Confirmed True'],['confirmed_false','Confirmed False'],
 ['arrests','Arrests'],['passers_by','Passers-by'],['true_recognition_rate','True Recognition Rate'],['false_alert_rate','False Alert Rate'],['mean_recognition_time_ms','Mean Recognition Time (ms)']];
// Each step opens its own panel: the one reasoning field it records (none
// for a step that records none, so nothing typed is dropped), a
// confirmation for the irreversible ones, and Activate's warnings.
const REASON={consult:'Consultation notes',veto:'Reasons for the veto',refuse:'Reasons for refusing',confirm_urgent_authority:'Why the urgent authority is confirmed',
 stop_urgent_authority:'Why the urgent authority is stopped',suspend:'Why recognition is suspended',resume:'Why recognition resumes',terminate:'Why the Deployment is terminated',
 conclude:'Circumstances of the conclusion',gold_review:'Your review (one record per review)'};
const IRREVERSIBLE=['veto','refuse','terminate'];
let view=null,chosen=null;
function warning(w){return {no_camera:'No camera is named in the Application: no faces will be compared.',
 empty_watchlist:'The Watchlist is empty: no Alert can be raised.',
 entries_enrolled_by_override:`${w.entries} Watchlist entr${w.entries===1?'y was':'ies were'} enrolled by override from images the face engine judged unsuitable: they may be missed.`,
 before_authorised_start:`It is before the authorised start (${when(w.starts_at)}).`,after_authorised_end:`It is after the authorised end (${when(w.ends_at)}).`}[w.kind]||w.kind}
function openStep(action){chosen=action;const box=document.getElementById('step-box');box.hidden=false;
 document.getElementById('step-title').textContent=LABEL[action];
 document.getElementById('reason-box').hidden=!REASON[action];document.getElementById('reason-label').textContent=REASON[action]||'';document.getElementById('reason').value='';
 const irr=IRREVERSIBLE.includes(action);document.getElementById('irreversible').hidden=!irr;document.getElementById('step-confirm').checked=false;
 const w=action==='activate'?view.activation_warnings.map(warning):[];document.getElementById('step-warnings').innerHTML=w.map(x=>`<li>${esc(x)}</li>`).join('');
 document.getElementById('step-warnings').hidden=!w.length;
 const go=document.getElementById('step-go');go.textContent=LABEL[action]+(w.length?' despite the warnings':'');go.disabled=irr;
 (REASON[action]?document.getElementById('reason'):go).focus()}
document.getElementById('step-confirm').onchange=e=>{document.getElementById('step-go').disabled=!e.target.checked};
document.getElementById('step-cancel').onclick=()=>{document.getElementById('step-box').hidden=true;chosen=null};
document.getElementById('step-go').onclick=()=>{if(chosen)step(chosen)};
async function step(action){const go=document.getElementById('step-go');go.disabled=true;
 const body={action,reason:REASON[action]?document.getElementById('reason').value:''};
 if(NEEDS_WA.includes(action)){body.authority={reasoning:document.getElementById('wa-reasoning').value,
  alternatives_considered:document.getElementById('wa-alternatives').value,threshold:parseFloat(document.getElementById('wa-threshold').value),
  target_false_alert_rate:document.getElementById('wa-threshold').dataset.far?parseFloat(document.getElementById('wa-threshold').dataset.far):null}}
 try{render(await api('POST',`/api/v1/deployments/${dep}/transitions`,body));document.getElementById('step-box').hidden=true;chosen=null;say(LABEL[action]+': done')}
 catch(x){say(x.message,true);go.disabled=IRREVERSIBLE.includes(action)&&!document.getElementById('step-confirm').checked}}
function render(v){view=v;const d=v.deployment,a=d.application;
 document.getElementById('state').textContent=stateName(d.state);document.body.dataset.state=d.state;
 document.getElementById('roles').textContent=v.your_roles.join(', ')||'none';
 document.getElementById('actions').innerHTML=v.actions.map(s=>`<button data-step="${s}" id="do-${s}">${LABEL[s]}</button>`).join('')||'<span class=muted>Nothing for you to do at this stage.</span>';
 document.querySelectorAll('#actions button').forEach(b=>b.onclick=()=>openStep(b.dataset.step));
 document.getElementById('authority').hidden=!v.actions.some(s=>NEEDS_WA.includes(s));
 // The form starts at the calibrated suggestion, not at a fixed number.
 if(!document.getElementById('authority').hidden&&!suggested){suggested=true;document.getElementById('suggest').click()}
 const rows=[['Title',a.title],['Location',a.location],['Planned',when(a.starts_at)+' to '+when(a.ends_at)],['Legitimate aim',a.legitimate_aim],['Legal basis',a.legal_basis],
  ['Necessity',a.necessity],['Proportionality',a.proportionality],['Safeguards',a.safeguards],['Watchlist composition',a.watchlist_composition],['Resources',a.resources],
  ['Community impact',a.assessments.community_impact],['Equality impact',a.assessments.equality_impact],['Data protection impact',a.assessments.data_protection_impact],
  ['Surveillance camera self-assessment',a.assessments.surveillance_camera_self_assessment],['Operational risk',a.assessments.operational_risk]];
 document.getElementById('application').innerHTML='<table>'+rows.map(([k,x])=>`<tr><th>${k}</th><td>${esc(x)}</td></tr>`).join('')+'</table>';
 const w=d.authority;document.getElementById('wa').innerHTML=w?`<table><tr><th>Authorised by</th><td>${esc(d.authorised_by)}</td></tr><tr><th>Reasoning</th><td>${esc(w.reasoning)}</td></tr>
  <tr><th>Alternatives</th><td>${esc(w.alternatives_considered)}</td></tr><tr><th>Threshold</th><td>${w.threshold.toFixed(3)}</td></tr><tr><th>Target False Alert Rate</th><td>${w.target_false_alert_rate??'-'}</td></tr>
  ${d.urgent_confirmation_due?`<tr><th>Urgent: confirm by</th><td class=bad>${when(d.urgent_confirmation_due)}</td></tr>`:''}</table>`:'<span class=muted>Not yet authorised.</span>';
 document.getElementById('assignments').innerHTML=v.assignments.map(x=>`<div class=assignment data-user="${esc(x.user)}" data-role="${esc(x.role)}">${esc(x.user)} as ${esc(x.role)}`+
  (v.may_assign?` <button class=unassign>Unassign</button>`:'')+'</div>').join('')||'<span class=muted>Nobody assigned.</span>';
 document.querySelectorAll('#assignments .unassign').forEach(b=>b.onclick=async()=>{const row=b.parentElement;
  const why=prompt(`Why does ${row.dataset.user}'s assignment as ${row.dataset.role} end? (recorded in the log)`);if(!why||!why.trim())return;
  try{render(await api('DELETE',`/api/v1/deployments/${dep}/assignments`,{user:row.dataset.user,role:row.dataset.role,reason:why}));say('Unassigned')}catch(x){say(x.message,true)}});
 document.getElementById('assign-box').hidden=!v.may_assign;if(v.may_assign)people();
 document.getElementById('log').innerHTML=d.log.map(l=>`<tr><td>${when(l.at)}</td><td>${esc(l.actor)}</td><td>${esc(l.action)}</td><td>${esc(stateName(l.from))}</td><td>${esc(stateName(l.to))}</td><td>${esc(l.reason)}</td></tr>`).join('');
 document.getElementById('edit-box').hidden=!v.may_edit_application;if(v.may_edit_application)fillApp(a);
 const rb=document.getElementById('report-box');rb.hidden=!v.may_file_cancellation_report;if(v.may_file_cancellation_report&&!rb.dataset.filled)loadReport(v.cancellation_report_due);
 if(d.cancellation_report){rb.hidden=false;rb.innerHTML='<h2>Cancellation Report (filed)</h2><table>'+REPORT.map(([k,l])=>`<tr><th>${l}</th><td>${esc(fmt(k,d.cancellation_report[k]))}</td></tr>`).join('')+'</table>'}
 stats()}
// Gold writes the commentary and the arrests; the counts and rates are the
// system's (shown, not editable: the server ignores any sent).
const GOLD=['circumstances_of_conclusion','resources_used','issues'];
async function loadReport(due){const r=await api('GET',`/api/v1/deployments/${dep}/cancellation-report/draft`);const f=document.getElementById('report');
 f.innerHTML=`<p>Due by <b>${when(due)}</b>.</p>`+REPORT.filter(([k])=>GOLD.includes(k)).map(([k,l])=>`<label class=f><span>${l}</span><textarea name=${k}></textarea></label>`).join('')+
  '<label class=f><span>Arrests</span><input name=arrests type=number min=0 value=0></label><table class=system-stats>'+
  REPORT.filter(([k])=>!GOLD.includes(k)&&k!=='arrests').map(([k,l])=>`<tr><th>${l}</th><td data-stat="${k}">${esc(fmt(k,r[k]))}</td></tr>`).join('')+
  '</table><p class=muted>Counted by the system; not editable.</p><button id=file-report>File the Cancellation Report</button>';
 document.getElementById('report-box').dataset.filled=1;
 f.onsubmit=async e=>{e.preventDefault();const b={arrests:Number(f.elements.arrests.value||0)};for(const k of GOLD)b[k]=f.elements[k].value;
  try{render(await api('POST',`/api/v1/deployments/${dep}/cancellation-report`,b));say('Cancellation Report filed')}catch(x){say(x.message,true)}}}
function fmt(k,v){return v==null?'-':k.endsWith('_rate')?pct(v):k.endsWith('_ms')?v.toFixed(0):v}
async function stats(){try{const s=await api('GET',`/api/v1/deployments/${dep}/stats`),t=s.stats,ci=s.true_recognition_rate_ci95;
 document.getElementById('stats').innerHTML=`<table><tr><th>Alerts</th><td>${t.alerts}</td><th>Awaiting adjudication</th><td>${t.awaiting_adjudication}</td></tr>
 <tr><th>False Alerts</th><td>${t.false_alerts}</td><th>Engagements</th><td>${t.engagements}</td></tr><tr><th>Passers-by</th><td>${t.passers_by}</td>
 <th>False Alert Rate</th><td class=${s.false_alert_rate_warning?'bad':''}>${pct(t.false_alert_rate)}</td></tr>
 <tr><th>Blue Watchlist passes</th><td>${t.blue_recognised} / ${t.blue_passes}</td><th>True Recognition Rate</th><td>${pct(t.true_recognition_rate)}${ci?` (95 % CI ${pct(ci[0])} to ${pct(ci[1])})`:''}</td></tr>
 <tr><th>Recognition Time mean</th><td>${t.mean_recognition_time_ms?.toFixed(0)??'-'} ms</td><th>p95</th><td>${t.p95_recognition_time_ms?.toFixed(0)??'-'} ms</td></tr></table>`}catch(x){}}
document.getElementById('app').onsubmit=async e=>{e.preventDefault();try{render(await api('PUT',`/api/v1/deployments/${dep}/application`,readApp()));say('Saved')}catch(x){say(x.message,true)}};
document.getElementById('suggest').onclick=async()=>{const far=parseFloat(document.getElementById('wa-far').value),n=parseInt(document.getElementById('wa-size').value);
 try{const a=await api('GET',`/api/v1/calibration/threshold?far=${far}&watchlist_size=${n}`),v=a.advice,th=document.getElementById('wa-threshold');
  th.value=v.threshold.toFixed(3);th.dataset.far=far;
  const how={measured:'measured on the calibration sets',modelled:'from the fitted tail of the calibration sets, inside what they resolve',extrapolated:'extrapolated beyond the calibration sets: confirm with a Blue Watchlist'}[v.method]||v.method,f=v.fairness;
  const fair=f?` Worst demographic group on the calibration set: ${f.worst_group}, ${f.ratio.toFixed(1)}× the overall false match rate${f.measured?'':' (measured at lower Thresholds: at least this)'}, so an expected false alert rate of ${f.false_alert_rate.toExponential(1)} for that group; this Threshold is ${f.within_2x?'inside':'outside'} the range where every group stays within 2×${f.within_2x_range?` (${f.within_2x_range[0].toFixed(3)}–${f.within_2x_range[1].toFixed(3)})`:' (none measured)'}.`:'';
  document.getElementById('advice').textContent=`per-comparison FMR ${v.false_match_rate.toExponential(2)}, ${how}; expected true match rate ${v.expected_true_match_rate==null?'-':(100*v.expected_true_match_rate).toFixed(1)+' %'}.${fair}`}
 catch(x){say(x.message,true)}};
document.getElementById('wa-threshold').oninput=e=>{delete e.target.dataset.far};
// The people an Administrator may assign, picked from a list (never
// typed), without themselves: another Administrator must assign them.
async function people(){const sel=document.getElementById('as-user');if(sel.dataset.loaded)return;
 try{const l=await api('GET','/api/v1/users');
  sel.innerHTML=l.filter(a=>!a.disabled).map(a=>`<option value="${esc(a.id)}">${esc(a.display_name)} (${esc(a.id)}, ${esc(a.rank)})</option>`).join('');
  sel.dataset.loaded='1'}catch(x){}}
document.getElementById('assign').onclick=async()=>{try{render(await api('POST',`/api/v1/deployments/${dep}/assignments`,{user:document.getElementById('as-user').value,role:document.getElementById('as-role').value}));say('Assigned')}catch(x){say(x.message,true)}};
api('GET',`/api/v1/deployments/${dep}`).then(v=>{render(v);document.body.dataset.ready='1'}).catch(x=>say(x.message,true));

cameraPanel(document.getElementById('dep').textContent,'camera-panel');setInterval(()=>cameraPanel(document.getElementById('dep').textContent,'camera-panel'),2000);
