//! The web console: server-rendered pages with small, dependency-free
//! scripts. The pages hold no data the API would not give the same user;
//! every action goes through the JSON API (and so through the same checks).

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::routes::escape;
use crate::AppState;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f4f5f7;color:#111}\
header{background:#14213d;color:#fff;padding:.6em 1em;display:flex;gap:1em;align-items:center}\
header a{color:#fff}main{padding:1em}.card{background:#fff;border:2px solid #ddd;border-radius:6px;padding:.7em;margin:.6em 0;display:flex;gap:1em;align-items:flex-start}\
.card.sel{border-color:#1f6feb}.card img{width:160px;height:160px;object-fit:contain;background:#222}\
.state{font-weight:bold}.warn{background:#ffd8d8;padding:.5em;border-radius:4px}table{border-collapse:collapse}td,th{padding:.3em .6em;border-bottom:1px solid #ddd;text-align:left}\
kbd{border:1px solid #888;border-radius:3px;padding:0 .3em;background:#eee}\
section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.4em 1em;margin:.8em 0}\
textarea{width:100%;min-height:3em}label.f{display:block;margin:.4em 0}label.f span{display:block;font-weight:600}\
.ok{color:#0a6b2d;font-weight:600}.bad{color:#a40e0e;font-weight:600}.grid{display:flex;flex-wrap:wrap;gap:.6em}\
.ref{background:#fff;border:1px solid #ccc;border-radius:6px;padding:.4em;width:200px}.ref img{width:190px;height:190px;object-fit:contain;background:#222}\
button{margin:.2em .3em .2em 0}.muted{color:#555}";

/// Helpers shared by every page's script: the CSRF token, a JSON call that
/// throws the API's error message, and HTML escaping (every value that
/// came from a user is escaped before it reaches `innerHTML`).
const COMMON: &str = r#"<script>
const csrf=document.querySelector('meta[name=csrf]').content;
function esc(v){return String(v??'').replace(/[&<>"']/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]))}
async function api(method,path,body){const r=await fetch(path,{method,headers:{'Content-Type':'application/json','X-Vigil-CSRF':csrf},body:body===undefined?undefined:JSON.stringify(body)});
 const t=await r.text();const j=t?JSON.parse(t):null;if(!r.ok)throw new Error(j&&j.error?j.error.message:r.statusText);return j}
function when(ms){return ms==null?'-':new Date(ms).toLocaleString()}
function pct(x){return x==null?'-':(100*x).toFixed(3)+' %'}
function say(msg,bad){const m=document.getElementById('msg');m.textContent=msg;m.className=bad?'warn':'ok';m.hidden=false}
</script>"#;

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content='width=device-width,initial-scale=1'>\
         <title>{t} · Vigil</title><style>{STYLE}</style></head><body><header><strong>Vigil</strong><span>{t}</span>\
         <a href=/console>Deployments</a><a href=/console/search>Face search</a><a href=/public>Public records</a><a href=/api/openapi.json>API</a></header><main>{body}</main></body></html>",
        t = escape(title)
    ))
}

pub async fn login_page() -> Html<String> {
    page(
        "Log in",
        "<form id=f><p><label>User <input name=user id=user autocomplete=username required></label></p>\
         <p><label>Password <input name=password id=password type=password autocomplete=current-password required></label></p>\
         <p><button id=login>Log in</button> <span id=err class=warn hidden></span></p></form>\
         <script>document.getElementById('f').onsubmit=async e=>{e.preventDefault();\
         const r=await fetch('/api/v1/login',{method:'POST',headers:{'Content-Type':'application/json'},\
         body:JSON.stringify({user:user.value,password:password.value})});\
         if(r.ok){location='/console'}else{err.hidden=false;err.textContent='Wrong user or password'}}</script>",
    )
}

/// The session's user and CSRF token, or a redirect to the login page.
async fn session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(vigil_core::access::User, String), Response> {
    let Ok((_, s)) = state.sessions.from_headers(headers) else {
        return Err(Redirect::to("/login").into_response());
    };
    match state.store.user(&s.user_id).await {
        Ok(u) => Ok((u, s.csrf)),
        Err(_) => Err(Redirect::to("/login").into_response()),
    }
}

/// The page a user sees where the rules refuse them, with the reason.
fn refused(status: StatusCode, reason: &str) -> Response {
    (
        status,
        page(
            "Not available",
            &format!("<p class=warn id=refused>{}</p>", escape(reason)),
        ),
    )
        .into_response()
}

/// A page for a signed-in user: the CSRF token for its script, the common
/// helpers, then the page's own markup and script.
fn app_page(title: &str, csrf: &str, body: &str) -> Response {
    (
        [(header::CACHE_CONTROL, "no-store")],
        page(
            title,
            &format!(
                "<meta name=csrf content='{}'><p id=msg hidden></p>{COMMON}{body}",
                escape(csrf)
            ),
        ),
    )
        .into_response()
}

pub async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (user, csrf) = match session(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut rows = String::new();
    for d in state.store.deployments().await.unwrap_or_default() {
        rows.push_str(&format!(
            "<tr><td><a href='/console/deployments/{id}'>{title}</a></td><td>{loc}</td><td class=state>{st}</td></tr>",
            id = escape(&d.id),
            title = escape(&d.application.title),
            loc = escape(&d.application.location),
            st = d.state.as_str()
        ));
    }
    let new = if vigil_core::access::check(&user, vigil_core::access::Action::DraftApplication, &[])
        .is_ok()
    {
        "<p><a id=new-application href=/console/deployments/new>Draft a new Application</a></p>"
    } else {
        ""
    };
    app_page(
        "Deployments",
        &csrf,
        &format!(
            "<p>Logged in as <b id=me>{}</b> ({:?}). <button id=logout>Log out</button></p>{new}\
             <table><thead><tr><th>Deployment</th><th>Location</th><th>State</th></tr></thead><tbody>{rows}</tbody></table>\
             <script>logout.onclick=()=>api('POST','/api/v1/logout').finally(()=>location='/login')</script>",
            escape(&user.id),
            user.rank
        ),
    )
}

/// The Application fields, in Form 1's order: (JSON path, label, long text).
const APPLICATION_FIELDS: [(&str, &str, bool); 14] = [
    ("title", "Title", false),
    ("location", "Location (Zone of Recognition)", false),
    ("legitimate_aim", "Legitimate aim", true),
    ("legal_basis", "Legal basis", true),
    ("necessity", "Necessity", true),
    ("proportionality", "Proportionality", true),
    ("safeguards", "Safeguards", true),
    ("watchlist_composition", "Watchlist composition", true),
    ("resources", "Resources", true),
    (
        "assessments.community_impact",
        "Community impact assessment",
        true,
    ),
    (
        "assessments.equality_impact",
        "Equality impact assessment",
        true,
    ),
    (
        "assessments.data_protection_impact",
        "Data protection impact assessment",
        true,
    ),
    (
        "assessments.surveillance_camera_self_assessment",
        "Surveillance camera self-assessment",
        true,
    ),
    (
        "assessments.operational_risk",
        "Operational risk assessment",
        true,
    ),
];

fn application_form() -> String {
    let mut f = String::from("<form id=app>");
    for (path, label, long) in APPLICATION_FIELDS {
        let input = if long {
            format!("<textarea name='{path}'></textarea>")
        } else {
            format!("<input name='{path}' size=60>")
        };
        f.push_str(&format!(
            "<label class=f><span>{label}</span>{input}</label>"
        ));
    }
    f.push_str(
        "<label class=f><span>Planned start</span><input type=datetime-local name=starts_at required></label>\
         <label class=f><span>Planned end</span><input type=datetime-local name=ends_at required></label>\
         <button id=save>Save draft</button></form>",
    );
    f
}

/// Reads and fills the Application form (nested `assessments.*` names).
const APPLICATION_SCRIPT: &str = r#"<script>
function readApp(){const f=document.getElementById('app'),a={assessments:{}};
 for(const el of f.elements){if(!el.name)continue;const v=el.type==='datetime-local'?new Date(el.value).getTime():el.value;
  const [x,y]=el.name.split('.');if(y)a[x][y]=v;else a[x]=v}return a}
function fillApp(a){const f=document.getElementById('app');for(const el of f.elements){if(!el.name)continue;
 const [x,y]=el.name.split('.');const v=y?a[x][y]:a[x];
 if(el.type==='datetime-local'){const d=new Date(v-new Date().getTimezoneOffset()*60000);el.value=d.toISOString().slice(0,16)}else el.value=v??''}}
</script>"#;

/// `/console/deployments/new`: an Applicant drafts Form 1 Part 1.
pub async fn new_application(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (_, csrf) = match session(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    app_page(
        "New Application",
        &csrf,
        &format!(
            "<p>Form 1, Part 1. Every field must be completed before the Application can be submitted.</p>{}{APPLICATION_SCRIPT}\
             <script>document.getElementById('app').onsubmit=async e=>{{e.preventDefault();\
             try{{const v=await api('POST','/api/v1/deployments',readApp());location='/console/deployments/'+v.deployment.id}}catch(x){{say(x.message,true)}}}}</script>",
            application_form()
        ),
    )
}

/// `/console/deployments/{id}`: the Deployment: its Application, authority,
/// the steps this user may take, statistics, Cancellation Report and log.
pub async fn deployment(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (_, csrf) = match session(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if state.store.deployment(&id).await.is_err() {
        return (
            StatusCode::NOT_FOUND,
            page("Not found", "<p class=warn>No such Deployment.</p>"),
        )
            .into_response();
    }
    app_page(
        "Deployment",
        &csrf,
        &format!(
            "<p>Deployment <code id=dep>{dep}</code> · <span class=state id=state></span> · \
             <a href='/console/deployments/{dep}/operator'>Operator view</a> · <a href='/console/deployments/{dep}/watchlist'>Watchlist</a></p>\
             <section id=actions-box><h3>Actions</h3><p class=muted>Your roles here: <span id=roles></span></p>\
             <label class=f><span>Reason / review (recorded in the log)</span><textarea id=reason></textarea></label>\
             <div id=authority hidden><label class=f><span>Written Authority: reasoning</span><textarea id=wa-reasoning></textarea></label>\
             <label class=f><span>Alternatives considered</span><textarea id=wa-alternatives></textarea></label>\
             <label class=f><span>Threshold</span><input id=wa-threshold type=number step=0.001 min=0 max=1 value=0.45></label>\
             <p>Or from a target False Alert Rate <input id=wa-far type=number step=0.0001 value=0.001 min=0 max=1> for <input id=wa-size type=number value=100 min=1> Watchlist images \
             <button id=suggest>Suggest a Threshold</button> <span id=advice class=muted></span></p></div>\
             <div id=actions></div></section>\
             <section><h3>Statistics</h3><div id=stats></div></section>\
             <section id=report-box hidden><h3>Cancellation Report (Form 1, Part 3)</h3><p class=muted>Pre-filled with the Deployment's statistics.</p><form id=report></form></section>\
             <section id=edit-box hidden><h3>Edit the Application</h3>{form}</section>\
             <section><h3>Application</h3><div id=application></div></section>\
             <section><h3>Written Authority</h3><div id=wa></div></section>\
             <section><h3>Assignments</h3><div id=assignments></div><div id=assign-box hidden>\
             <input id=as-user placeholder='user id'> <select id=as-role><option>Gold</option><option>Silver</option><option>Operator</option><option>EngagementOfficer</option><option>WatchlistCompiler</option></select> <button id=assign>Assign</button></div></section>\
             <section><h3>Log</h3><table><thead><tr><th>When</th><th>Who</th><th>Action</th><th>From</th><th>To</th><th>Reason</th></tr></thead><tbody id=log></tbody></table></section>\
             {APPLICATION_SCRIPT}{DEPLOYMENT_SCRIPT}",
            dep = escape(&id),
            form = application_form(),
        ),
    )
}

const DEPLOYMENT_SCRIPT: &str = r#"<script>
const dep=document.getElementById('dep').textContent;
const LABEL={submit:'Submit',consult:'Record consultation (no veto)',veto:'Veto',refuse:'Refuse',authorise:'Authorise',
 authorise_urgently:'Authorise urgently',confirm_urgent_authority:'Confirm urgent authority',stop_urgent_authority:'Stop urgent authority',
 activate:'Activate',suspend:'Suspend',resume:'Resume',terminate:'Terminate',conclude:'Conclude',gold_review:'Record Gold review'};
const NEEDS_WA=['authorise','authorise_urgently'];
const REPORT=[['circumstances_of_conclusion','Circumstances of conclusion',1],['resources_used','Resources used',1],['issues','Issues',1],
 ['alerts','Alerts'],['false_alerts','False Alerts'],['engagements','Engagements'],['confirmed_true','Confirmed True'],['confirmed_false','Confirmed False'],
 ['arrests','Arrests'],['passers_by','Passers-by'],['true_recognition_rate','True Recognition Rate'],['false_alert_rate','False Alert Rate'],['mean_recognition_time_ms','Mean Recognition Time (ms)']];
async function step(action){const body={action,reason:document.getElementById('reason').value};
 if(NEEDS_WA.includes(action)){body.authority={reasoning:document.getElementById('wa-reasoning').value,
  alternatives_considered:document.getElementById('wa-alternatives').value,threshold:parseFloat(document.getElementById('wa-threshold').value),
  target_false_alert_rate:document.getElementById('wa-threshold').dataset.far?parseFloat(document.getElementById('wa-threshold').dataset.far):null}}
 try{render(await api('POST',`/api/v1/deployments/${dep}/transitions`,body));document.getElementById('reason').value='';say(LABEL[action]+': done')}catch(x){say(x.message,true)}}
function render(v){const d=v.deployment,a=d.application;
 document.getElementById('state').textContent=d.state;document.body.dataset.state=d.state;
 document.getElementById('roles').textContent=v.your_roles.join(', ')||'none';
 document.getElementById('actions').innerHTML=v.actions.map(s=>`<button data-step="${s}" id="do-${s}">${LABEL[s]}</button>`).join('')||'<span class=muted>Nothing for you to do at this stage.</span>';
 document.querySelectorAll('#actions button').forEach(b=>b.onclick=()=>step(b.dataset.step));
 document.getElementById('authority').hidden=!v.actions.some(s=>NEEDS_WA.includes(s));
 const rows=[['Title',a.title],['Location',a.location],['Planned',when(a.starts_at)+' to '+when(a.ends_at)],['Legitimate aim',a.legitimate_aim],['Legal basis',a.legal_basis],
  ['Necessity',a.necessity],['Proportionality',a.proportionality],['Safeguards',a.safeguards],['Watchlist composition',a.watchlist_composition],['Resources',a.resources],
  ['Community impact',a.assessments.community_impact],['Equality impact',a.assessments.equality_impact],['Data protection impact',a.assessments.data_protection_impact],
  ['Surveillance camera self-assessment',a.assessments.surveillance_camera_self_assessment],['Operational risk',a.assessments.operational_risk]];
 document.getElementById('application').innerHTML='<table>'+rows.map(([k,x])=>`<tr><th>${k}</th><td>${esc(x)}</td></tr>`).join('')+'</table>';
 const w=d.authority;document.getElementById('wa').innerHTML=w?`<table><tr><th>Authorised by</th><td>${esc(d.authorised_by)}</td></tr><tr><th>Reasoning</th><td>${esc(w.reasoning)}</td></tr>
  <tr><th>Alternatives</th><td>${esc(w.alternatives_considered)}</td></tr><tr><th>Threshold</th><td>${w.threshold}</td></tr><tr><th>Target False Alert Rate</th><td>${w.target_false_alert_rate??'-'}</td></tr>
  ${d.urgent_confirmation_due?`<tr><th>Urgent: confirm by</th><td class=bad>${when(d.urgent_confirmation_due)}</td></tr>`:''}</table>`:'<span class=muted>Not yet authorised.</span>';
 document.getElementById('assignments').innerHTML=v.assignments.map(x=>`${esc(x.user)} as ${esc(x.role)}`).join('<br>')||'<span class=muted>Nobody assigned.</span>';
 document.getElementById('assign-box').hidden=!v.may_assign;
 document.getElementById('log').innerHTML=d.log.map(l=>`<tr><td>${when(l.at)}</td><td>${esc(l.actor)}</td><td>${esc(l.action)}</td><td>${l.from}</td><td>${l.to}</td><td>${esc(l.reason)}</td></tr>`).join('');
 document.getElementById('edit-box').hidden=!v.may_edit_application;if(v.may_edit_application)fillApp(a);
 const rb=document.getElementById('report-box');rb.hidden=!v.may_file_cancellation_report;if(v.may_file_cancellation_report&&!rb.dataset.filled)loadReport(v.cancellation_report_due);
 if(d.cancellation_report){rb.hidden=false;rb.innerHTML='<h3>Cancellation Report (filed)</h3><table>'+REPORT.map(([k,l])=>`<tr><th>${l}</th><td>${esc(d.cancellation_report[k])}</td></tr>`).join('')+'</table>'}
 stats()}
async function loadReport(due){const r=await api('GET',`/api/v1/deployments/${dep}/cancellation-report/draft`);const f=document.getElementById('report');
 f.innerHTML=`<p>Due by <b>${when(due)}</b>.</p>`+REPORT.map(([k,l,long])=>`<label class=f><span>${l}</span>${long?`<textarea name=${k}></textarea>`:`<input name=${k} value="${esc(r[k])}">`}</label>`).join('')+'<button id=file-report>File the Cancellation Report</button>';
 document.getElementById('report-box').dataset.filled=1;
 f.onsubmit=async e=>{e.preventDefault();const b={};for(const el of f.elements){if(!el.name)continue;
  if(['circumstances_of_conclusion','resources_used','issues'].includes(el.name))b[el.name]=el.value;else b[el.name]=el.value===''?null:Number(el.value)}
  for(const k of ['alerts','false_alerts','engagements','confirmed_true','confirmed_false','arrests','passers_by'])b[k]=b[k]??0;
  try{render(await api('POST',`/api/v1/deployments/${dep}/cancellation-report`,b));say('Cancellation Report filed')}catch(x){say(x.message,true)}}}
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
  document.getElementById('advice').textContent=`per-comparison FMR ${v.false_match_rate.toExponential(2)}, ${v.method==='measured'?'measured':'extrapolated from the calibration set: confirm with a Blue Watchlist'}; expected true match rate ${v.expected_true_match_rate==null?'-':(100*v.expected_true_match_rate).toFixed(1)+' %'}`}
 catch(x){say(x.message,true)}};
document.getElementById('wa-threshold').oninput=e=>{delete e.target.dataset.far};
document.getElementById('assign').onclick=async()=>{try{render(await api('POST',`/api/v1/deployments/${dep}/assignments`,{user:document.getElementById('as-user').value,role:document.getElementById('as-role').value}));say('Assigned')}catch(x){say(x.message,true)}};
api('GET',`/api/v1/deployments/${dep}`).then(v=>{render(v);document.body.dataset.ready='1'}).catch(x=>say(x.message,true));
</script>"#;

/// `/console/deployments/{id}/watchlist`: compile the Watchlist from the
/// reference store with a quality verdict per image and the expected
/// Alert load; record Blue Watchlist passes.
pub async fn watchlist(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (_, csrf) = match session(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    app_page(
        "Watchlist",
        &csrf,
        &format!(
            "<p>Deployment <a href='/console/deployments/{dep}'><code id=dep>{dep}</code></a>. Subjects are known by reference only; \
             no protected characteristics are recorded.</p>\
             <section><h3>Watchlist</h3><p>Expected passers-by <input id=passers type=number value=10000 min=0> \
             <button id=recalc>Recalculate</button></p><div id=load></div><table><thead><tr><th>Reference</th><th>Category</th><th>Reason</th><th>Source</th><th>Blue</th><th></th></tr></thead><tbody id=entries></tbody></table></section>\
             <section id=compile hidden><h3>Add from the reference store</h3>\
             <p><label>Category <select id=category><option>Primary</option><option>Additional</option></select></label> \
             <label>Reason for inclusion <input id=why size=40></label> <label><input type=checkbox id=blue> Blue Watchlist volunteer</label> \
             <button id=add>Add the selected images</button></p><div id=refs class=grid></div></section>{WATCHLIST_SCRIPT}",
            dep = escape(&id)
        ),
    )
}

const WATCHLIST_SCRIPT: &str = r#"<script>
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
</script>"#;

/// The Operator view: live Alert queue, Probe and Candidate side by side,
/// keyboard adjudication, camera health with the False Alert Rate so far.
pub async fn operator(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (user, csrf) = match session(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(e) = state.store.alerts(&user, &id).await {
        let status = if matches!(e, vigil_store::StoreError::NotFound(_)) {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::FORBIDDEN
        };
        return refused(status, &e.to_string());
    }
    app_page(
        "Operator",
        &csrf,
        &format!(
            "<p>Deployment <a href='/console/deployments/{dep}'><code id=dep>{dep}</code></a>. Keys: <kbd>j</kbd>/<kbd>k</kbd> select, \
             <kbd>f</kbd> False Alert, <kbd>e</kbd> Engage, <kbd>t</kbd> Confirmed True, <kbd>x</kbd> Confirmed False. \
             Every Alert is a lead for a person to judge, never an identification.</p>\
             <p id=far-warning class=warn hidden></p><div id=health></div><div id=rates></div><div id=queue></div>{OPERATOR_SCRIPT}",
            dep = escape(&id)
        ),
    )
}

const OPERATOR_SCRIPT: &str = r#"<script>
const dep=document.getElementById('dep').textContent;
const queue=document.getElementById('queue'); let sel=0;
function quality(q){try{const v=JSON.parse(q);return `IED ${v.inter_eye_distance.toFixed(0)} px · yaw ${v.yaw_degrees.toFixed(0)}° · sharpness ${v.sharpness.toFixed(0)}`}catch(e){return ''}}
function card(a){let c=document.getElementById('a-'+a.id);
 if(!c){c=document.createElement('div');c.className='card';c.id='a-'+a.id;queue.prepend(c)}
 const id=encodeURIComponent(a.id), t=new Date(a.raised).toLocaleTimeString();
 c.innerHTML=`<img alt=Probe src="/api/v1/alerts/${id}/images/probe"><img alt=Candidate src="/api/v1/alerts/${id}/images/candidate">
 <div><div>Score <b>${a.score.toFixed(3)}</b> · camera ${esc(a.camera)} · ${t} · RT ${a.recognition_time_ms} ms</div>
 <div class=muted>${esc(quality(a.quality))}</div>
 <div>Subject ${esc(a.subject_ref??'(deleted)')}${a.blue?' (Blue Watchlist)':''}</div><div class=state>${a.state}</div>
 <input class=note placeholder="note" size=40></div>`;c.dataset.id=a.id;mark()}
function cards(){return [...queue.querySelectorAll('.card')]}
function mark(){cards().forEach((c,i)=>c.classList.toggle('sel',i===sel))}
async function decide(d){const c=cards()[sel];if(!c)return;
 try{card(await api('POST',`/api/v1/alerts/${encodeURIComponent(c.dataset.id)}/adjudications`,{decision:d,note:c.querySelector('.note').value}))}catch(x){say(x.message,true)}}
document.addEventListener('keydown',e=>{if(e.target.tagName==='INPUT')return;
 const k={f:'FalseAlert',e:'Engage',t:'ConfirmTrue',x:'ConfirmFalse'}[e.key];
 if(k){decide(k)}else if(e.key==='j'){sel=Math.min(sel+1,cards().length-1);mark()}else if(e.key==='k'){sel=Math.max(sel-1,0);mark()}});
function load(){return fetch(`/api/v1/deployments/${dep}/alerts`).then(r=>r.json()).then(l=>l.reverse().forEach(card))}
const es=new EventSource(`/api/v1/deployments/${dep}/alerts/events`);
es.addEventListener('alert',e=>card(JSON.parse(e.data).alert));
// (Re)load on every (re)connection, so nothing raised while disconnected is missed.
es.onopen=()=>load().then(()=>{document.body.dataset.live='1'});
async function health(){const r=await fetch('/api/v1/cameras');if(r.ok){const l=await r.json();
 document.getElementById('health').innerHTML='<table><tr><th>Camera</th><th>State</th><th>fps</th><th>Dropped</th><th>Passers-by</th><th>Alerts</th><th>RT p95</th></tr>'+
 l.map(c=>`<tr><td>${esc(c.camera)}</td><td>${esc(c.state)}</td><td>${c.processed_fps.toFixed(1)}</td><td>${c.frames_dropped}</td><td>${c.passers_by}</td><td>${c.alerts}</td><td>${c.p95_recognition_time_ms==null?'-':c.p95_recognition_time_ms.toFixed(0)+' ms'}</td></tr>`).join('')+'</table>'}
 try{const s=await api('GET',`/api/v1/deployments/${dep}/stats`),t=s.stats,ci=s.true_recognition_rate_ci95;
  document.getElementById('rates').innerHTML=`<p>So far: ${t.passers_by} passers-by, ${t.alerts} Alerts, False Alert Rate <b>${pct(t.false_alert_rate)}</b>, `+
   `True Recognition Rate <b>${pct(t.true_recognition_rate)}</b>${ci?` (95 % CI ${pct(ci[0])} to ${pct(ci[1])}, ${t.blue_passes} Blue passes)`:''}.</p>`;
  const w=document.getElementById('far-warning');w.hidden=!s.false_alert_rate_warning;
  w.textContent=`False Alert Rate ${pct(t.false_alert_rate)} is above 1 in 1000: tell Silver; consider raising the Threshold or suspending.`}catch(x){}}
health();setInterval(health,2000);
</script>"#;

/// RFR and OIFR: one page an investigator uses at a desk or on a phone
/// (the file input offers the camera on mobile devices).
pub async fn search(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (user, csrf) = match session(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(e) = vigil_core::access::check(&user, vigil_core::access::Action::RunSearch, &[]) {
        return refused(StatusCode::FORBIDDEN, &e.to_string());
    }
    app_page(
        "Face search (RFR / OIFR)",
        &csrf,
        &format!("<p class=warn>Candidates are leads for you to review, never identifications. Every search, \
         every image you open and every decision is recorded in the audit log.</p>{SEARCH_FORM}{SEARCH_SCRIPT}"),
    )
}

const SEARCH_FORM: &str = r##"<section><form id=sf>
<label class=f><span>Case reference</span><input id=case_ref name=case_ref required maxlength=200></label>
<label class=f><span>Reason for the search</span><textarea id=reason name=reason required maxlength=2000></textarea></label>
<label class=f><span>Kind</span><select id=kind name=kind><option value=rfr>Retrospective (still or video)</option><option value=oifr>Operator Initiated (photo taken now)</option></select></label>
<label class=f><span>Photo or video</span><input id=media name=media type=file accept="image/*,video/*" capture=environment required></label>
<button id=go>Search</button> <span id=busy hidden>Searching…</span></form></section>
<div id=result></div><section><h3>My searches</h3><ul id=mine></ul></section>"##;

const SEARCH_SCRIPT: &str = r##"<script>
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
</script>"##;
