(function(){
var audio=document.getElementById('player'),svg=document.getElementById('timeline'),
head=document.getElementById('playhead');
if(!audio||!svg)return;
var x0=parseFloat(svg.dataset.x0),w=parseFloat(svg.dataset.width),
d=parseFloat(svg.dataset.duration);
function seek(t){audio.currentTime=Math.max(0,t);audio.play();}
audio.addEventListener('timeupdate',function(){
var x=x0+w*Math.min(audio.currentTime/d,1);
head.setAttribute('x1',x);head.setAttribute('x2',x);head.style.display='';});
svg.addEventListener('click',function(e){
var p=svg.createSVGPoint();p.x=e.clientX;p.y=e.clientY;
var q=p.matrixTransform(svg.getScreenCTM().inverse());
var t=(q.x-x0)/w*d;if(t>=0&&t<=d)seek(t);});
document.querySelectorAll('a.t').forEach(function(a){
a.addEventListener('click',function(e){e.preventDefault();seek(parseFloat(a.dataset.t));});});
})();
