// The serverless page's model picker (a URL, a hub id, or the model's files from disk) and the
// byte-count progress bar shown while the model loads. Markup: #model-picker in index.html.

const $ = (id) => document.getElementById(id);

/** Shows the picker (with why the last try failed, if it did); resolves with { source: string | File[], backend } on Load. */
export function pickModel(defaultBackend, failure = '') {
  const picker = $('model-picker');
  picker.hidden = false;
  $('picker-form').hidden = false;
  $('picker-error').textContent = failure;
  $('picker-error').hidden = !failure;
  $('picker-backend').value = defaultBackend;
  return new Promise((resolve) => {
    const submit = (e) => {
      e.preventDefault();
      const files = [...$('picker-files').files];
      const source = files.length ? files : $('picker-source').value.trim();
      if (!source) return;
      $('picker-form').removeEventListener('submit', submit);
      resolve({ source, backend: $('picker-backend').value });
    };
    $('picker-form').addEventListener('submit', submit);
  });
}

function mb(bytes) {
  return (bytes / 1e6).toFixed(1);
}

/** Shows the loading bar for `name`; update() with bytes so far, done() hides the picker. */
export function showLoadProgress(name) {
  const picker = $('model-picker');
  picker.hidden = false;
  $('picker-form').hidden = true;
  $('picker-loading').hidden = false;
  $('picker-name').textContent = name;
  const bar = $('picker-bar');
  bar.removeAttribute('value'); // indeterminate until the first byte counts arrive
  $('picker-bytes').textContent = 'starting…';
  return {
    update(file, loaded, total) {
      bar.max = total || 1;
      bar.value = loaded;
      $('picker-bytes').textContent = `${file}: ${mb(loaded)} of ${mb(total)} MB`;
    },
    done() {
      $('picker-loading').hidden = true;
      picker.hidden = true;
    },
  };
}
