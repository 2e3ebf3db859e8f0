// The HTML report's behaviour: header clicks sort (numbers by data-v); a row click, Enter, or #view=N opens
// its view in a row below it (a second click or Esc closes it), the arrow keys step through the rows; a
// view's layer buttons switch the map shown over the image.
(function(){
var table=document.getElementById('results');
var ths=table.tHead.rows[0].cells;
Array.prototype.forEach.call(ths,function(th,col){
  th.addEventListener('click',function(){
    close();
    var desc=!th.classList.contains('sorted-desc');
    Array.prototype.forEach.call(ths,function(h){h.classList.remove('sorted-desc','sorted-asc');});
    th.classList.add(desc?'sorted-desc':'sorted-asc');
    var rows=Array.prototype.slice.call(table.tBodies[0].rows);
    var num=th.dataset.type==='num';
    rows.sort(function(a,b){
      var x=a.cells[col].dataset.v, y=b.cells[col].dataset.v;
      var c=num?(parseFloat(x)-parseFloat(y)):x.localeCompare(y);
      return desc?-c:c;
    });
    rows.forEach(function(r){table.tBodies[0].appendChild(r);});
  });
});
var current=null, detail=null, views=document.getElementById('views');
function close(){
  if(current===null)return;
  var v=document.getElementById('view-'+current);v.hidden=true;views.appendChild(v);
  detail.parentNode.removeChild(detail);current=null;
}
function open(k){
  var v=document.getElementById('view-'+k), tr=table.querySelector('tbody tr[data-view="'+k+'"]');
  if(!v||!tr)return;
  close();
  if(!detail){detail=document.createElement('tr');detail.className='detail';
    var td=document.createElement('td');td.colSpan=tr.cells.length;detail.appendChild(td);}
  v.querySelectorAll('img[data-src]').forEach(function(img){img.src=img.dataset.src;img.removeAttribute('data-src');});
  detail.firstChild.appendChild(v);tr.parentNode.insertBefore(detail,tr.nextSibling);
  v.hidden=false;current=k;
  if(detail.scrollIntoView)detail.scrollIntoView({block:'nearest'});
}
function step(d){
  var rows=Array.prototype.slice.call(table.tBodies[0].rows).filter(function(r){return r.dataset.view!==undefined;});
  var i=rows.findIndex(function(r){return r.dataset.view===current;});
  if(rows[i+d])open(rows[i+d].dataset.view);
}
Array.prototype.forEach.call(table.tBodies[0].rows,function(tr){
  tr.addEventListener('click',function(){if(current===tr.dataset.view)close();else open(tr.dataset.view);});
  tr.addEventListener('keydown',function(e){if(e.key==='Enter')open(tr.dataset.view);});
});
document.querySelectorAll('.view .close').forEach(function(b){b.addEventListener('click',close);});
document.querySelectorAll('.view .prev').forEach(function(b){b.addEventListener('click',function(){step(-1);});});
document.querySelectorAll('.view .next').forEach(function(b){b.addEventListener('click',function(){step(1);});});
document.addEventListener('keydown',function(e){
  if(current===null||e.target.tagName==='BUTTON')return;
  if(e.key==='Escape')close();else if(e.key==='ArrowRight')step(1);else if(e.key==='ArrowLeft')step(-1);
});
// Layers: a radio per layer (the model's map, each classic view) switches the one image over the photo;
// #view=N&layer=NAME opens row N's view on that layer.
function showLayer(input){
  var img=input.closest('figure').querySelector('img.layer');
  if(input.dataset.url){img.src=input.dataset.url;img.removeAttribute('data-src');img.dataset.layer=input.value;}
}
document.querySelectorAll('.layer-choice input').forEach(function(input){
  input.addEventListener('change',function(){if(input.checked)showLayer(input);});
});
var m=/^#view=(\d+)(?:&layer=([\w-]+))?$/.exec(location.hash);
if(m){var tr=table.querySelector('tbody tr[data-view="'+m[1]+'"]');if(tr)tr.click();
  var pick=m[2]&&document.querySelector('#view-'+m[1]+' .layer-choice input[value="'+m[2]+'"]');
  if(pick&&!pick.disabled){pick.checked=true;showLayer(pick);}}
})();
