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
kbd{border:1px solid #888;border-radius:3px;padding:0 .3em;background:#eee}";

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content='width=device-width,initial-scale=1'>\
         <title>{t} · Vigil</title><style>{STYLE}</style></head><body><header><strong>Vigil</strong><span>{t}</span>\
         <a href=/console>Deployments</a><a href=/public>Public records</a></header><main>{body}</main></body></html>",
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

pub async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (user, _) = match session(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut rows = String::new();
    for d in state.store.deployments().await.unwrap_or_default() {
        rows.push_str(&format!(
            "<tr><td><a href='/console/deployments/{id}'>{title}</a></td><td>{loc}</td><td>{st}</td></tr>",
            id = escape(&d.id),
            title = escape(&d.application.title),
            loc = escape(&d.application.location),
            st = d.state.as_str()
        ));
    }
    page(
        "Deployments",
        &format!(
            "<p>Logged in as <b id=me>{}</b> ({:?}).</p><table><thead><tr><th>Deployment</th><th>Location</th><th>State</th></tr></thead><tbody>{rows}</tbody></table>",
            escape(&user.display_name),
            user.rank
        ),
    )
    .into_response()
}

/// The Operator view: live Alert queue, Probe and Candidate side by side,
/// keyboard adjudication, camera health.
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
        return (
            status,
            page(
                "Not available",
                &format!("<p class=warn>{}</p>", escape(&e.to_string())),
            ),
        )
            .into_response();
    }
    let body = format!(
        "<meta name=csrf content='{csrf}'><p>Deployment <code id=dep>{dep}</code>. Keys: <kbd>j</kbd>/<kbd>k</kbd> select, \
         <kbd>f</kbd> False Alert, <kbd>e</kbd> Engage, <kbd>t</kbd> Confirmed True, <kbd>x</kbd> Confirmed False. \
         Every Alert is a lead for a person to judge, never an identification.</p>\
         <div id=health></div><div id=queue></div>{SCRIPT}",
        csrf = escape(&csrf),
        dep = escape(&id)
    );
    (
        [(header::CACHE_CONTROL, "no-store")],
        page("Operator", &body),
    )
        .into_response()
}

const SCRIPT: &str = r#"<script>
const dep=document.getElementById('dep').textContent, csrf=document.querySelector('meta[name=csrf]').content;
const queue=document.getElementById('queue'); let sel=0;
function card(a){let c=document.getElementById('a-'+a.id);
 if(!c){c=document.createElement('div');c.className='card';c.id='a-'+a.id;queue.prepend(c)}
 const rt=a.recognition_time_ms, t=new Date(a.raised).toLocaleTimeString();
 c.innerHTML=`<img alt=Probe src="/api/v1/alerts/${a.id}/images/probe"><img alt=Candidate src="/api/v1/alerts/${a.id}/images/candidate">
 <div><div>Score <b>${a.score.toFixed(3)}</b> · camera ${a.camera} · ${t} · RT ${rt} ms</div>
 <div>Subject ${a.subject_ref??'(deleted)'}</div><div class=state>${a.state}</div>
 <input class=note placeholder="note" size=40></div>`;c.dataset.id=a.id;mark()}
function cards(){return [...queue.querySelectorAll('.card')]}
function mark(){cards().forEach((c,i)=>c.classList.toggle('sel',i===sel))}
async function decide(d){const c=cards()[sel];if(!c)return;
 const r=await fetch(`/api/v1/alerts/${c.dataset.id}/adjudications`,{method:'POST',headers:{'Content-Type':'application/json','X-Vigil-CSRF':csrf},
  body:JSON.stringify({decision:d,note:c.querySelector('.note').value})});
 const j=await r.json(); if(r.ok){card(j)}else{alert(j.error.message)}}
document.addEventListener('keydown',e=>{if(e.target.tagName==='INPUT')return;
 const k={f:'FalseAlert',e:'Engage',t:'ConfirmTrue',x:'ConfirmFalse'}[e.key];
 if(k){decide(k)}else if(e.key==='j'){sel=Math.min(sel+1,cards().length-1);mark()}else if(e.key==='k'){sel=Math.max(sel-1,0);mark()}});
function load(){return fetch(`/api/v1/deployments/${dep}/alerts`).then(r=>r.json()).then(l=>l.reverse().forEach(card))}
const es=new EventSource(`/api/v1/deployments/${dep}/alerts/events`);
es.addEventListener('alert',e=>card(JSON.parse(e.data).alert));
// (Re)load on every (re)connection, so nothing raised while disconnected is missed.
es.onopen=()=>load().then(()=>{document.body.dataset.live='1'});
async function health(){const r=await fetch('/api/v1/cameras');if(!r.ok)return;const l=await r.json();
 document.getElementById('health').innerHTML='<table><tr><th>Camera</th><th>State</th><th>fps</th><th>Dropped</th><th>Passers-by</th><th>Alerts</th><th>RT p95</th></tr>'+
 l.map(c=>`<tr><td>${c.camera}</td><td>${c.state}</td><td>${c.processed_fps.toFixed(1)}</td><td>${c.frames_dropped}</td><td>${c.passers_by}</td><td>${c.alerts}</td><td>${c.p95_recognition_time_ms??'-'}</td></tr>`).join('')+'</table>'}
health();setInterval(health,2000);
</script>"#;
