// Import page: upload with progress, then poll the import job until it ends.
(function () {
  var box = document.getElementById('import-progress');
  var text = document.getElementById('progress-text');
  var bar = document.getElementById('progress-bar');
  function poll(id) {
    fetch('/import/jobs/' + id + '/progress', { credentials: 'same-origin' }).then(function (r) { return r.json(); }).then(function (p) {
      text.textContent = p.message;
      if (p.percent != null) bar.value = p.percent; else bar.removeAttribute('value');
      if (p.finished) { window.location = p.url; } else { setTimeout(function () { poll(id); }, 500); }
    }).catch(function () { setTimeout(function () { poll(id); }, 1000); });
  }
  if (box && box.dataset.job) { poll(box.dataset.job); return; }
  var form = document.getElementById('import-form');
  if (!form || !window.FormData) return;
  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var xhr = new XMLHttpRequest();
    xhr.open('POST', form.action);
    xhr.setRequestHeader('Accept', 'application/json');
    box.hidden = false;
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) { bar.value = Math.round(e.loaded * 100 / e.total); text.textContent = '正在上传 ' + bar.value + '%'; }
    };
    xhr.onload = function () {
      var r = {};
      try { r = JSON.parse(xhr.responseText); } catch (e) { r = { error: '上传失败 (' + xhr.status + ')' }; }
      if (xhr.status === 202 && r.id) { text.textContent = '上传完成, 开始导入…'; poll(r.id); }
      else { text.textContent = r.error || ('上传失败 (' + xhr.status + ')'); text.className = 'error'; }
    };
    xhr.onerror = function () { text.textContent = '上传中断, 请重试'; text.className = 'error'; };
    xhr.send(new FormData(form));
  });
})();
