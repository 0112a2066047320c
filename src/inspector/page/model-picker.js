// @ts-check
// The serverless page's model picker (a URL, a hub id, or the model's files from disk) and the
// byte-count progress bar shown while the model loads. Markup: #model-picker in index.html.

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
/** @param {string} id */
const input = (id) => /** @type {HTMLInputElement} */ ($(id));
/** @param {string} id */
const select = (id) => /** @type {HTMLSelectElement} */ ($(id));

/** @param {string} message empty: hide the line */
function say(message) {
  $('picker-error').textContent = message;
  $('picker-error').hidden = !message;
}

/** @typedef {{ source: string | File[], backend: string, dtype: string }} ModelChoice */

/**
 * Shows the picker (with why the last try failed, if it did); resolves on Load with a source.
 * @param {{ backend: string, dtype: string }} defaults
 * @param {string} [failure]
 * @returns {Promise<ModelChoice>}
 */
export function pickModel(defaults, failure = '') {
  const picker = $('model-picker');
  const form = $('picker-form');
  picker.hidden = false;
  form.hidden = false;
  say(failure);
  select('picker-backend').value = defaults.backend;
  select('picker-dtype').value = defaults.dtype;
  input('picker-source').focus();
  return new Promise((resolve) => {
    /** @param {Event} e */
    const submit = (e) => {
      e.preventDefault();
      const files = [...(input('picker-files').files ?? [])];
      const source = files.length ? files : input('picker-source').value.trim();
      if (!source) {
        say("Type a hub id (e.g. Salesforce/blip-itm-base-coco) or a model folder URL, or choose the model's files, then Load.");
        input('picker-source').focus();
        return;
      }
      form.removeEventListener('submit', submit);
      resolve({ source, backend: select('picker-backend').value, dtype: select('picker-dtype').value });
    };
    form.addEventListener('submit', submit);
  });
}

/** @param {number} bytes */
function mb(bytes) {
  return (bytes / 1e6).toFixed(1);
}

/**
 * Shows the loading bar for `name`; update() with bytes so far, done() hides the picker.
 * @param {string} name
 */
export function showLoadProgress(name) {
  const picker = $('model-picker');
  picker.hidden = false;
  $('picker-form').hidden = true;
  say('');
  $('picker-loading').hidden = false;
  $('picker-name').textContent = name;
  const bar = /** @type {HTMLProgressElement} */ ($('picker-bar'));
  bar.removeAttribute('value'); // indeterminate until the first byte counts arrive
  $('picker-bytes').textContent = 'starting…';
  return {
    /**
     * @param {string} file
     * @param {number} loaded
     * @param {number} total
     */
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
