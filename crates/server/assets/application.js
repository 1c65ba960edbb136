function readApp(){const f=document.getElementById('app'),a={assessments:{}};
 for(const el of f.elements){if(!el.name)continue;const v=el.type==='datetime-local'?new Date(el.value).getTime():el.value;
  const [x,y]=el.name.split('.');if(y)a[x][y]=v;else a[x]=v}return a}
function fillApp(a){const f=document.getElementById('app');for(const el of f.elements){if(!el.name)continue;
 const [x,y]=el.name.split('.');const v=y?a[x][y]:a[x];
 if(el.type==='datetime-local'){const d=new Date(v-new Date().getTimezoneOffset()*60000);el.value=d.toISOString().slice(0,16)}else el.value=v??''}}
