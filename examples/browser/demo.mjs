// The demo page's logic: everything it uses comes from the one bundled module.
import { BlipItm, decodeImage, overlayMap } from '/dist/browser/blip-itm.js';

const $ = (id) => document.getElementById(id);
let model = null;
let imageBytes = null;

function status(text) {
  $('status').textContent = text;
}

function mb(n) {
  return `${(n / 1e6).toFixed(1)} MB`;
}

$('load').onclick = async () => {
  $('load').disabled = true;
  model?.dispose();
  model = null;
  const files = $('modelFiles').files;
  const source = files.length ? files : $('source').value.trim();
  const t0 = performance.now();
  try {
    model = await BlipItm.load(source, {
      backend: $('backend').value,
      dtype: $('dtype').value,
      progress: ({ file, loaded, total, fromCache }) => {
        $('progress').max = total || 1;
        $('progress').value = loaded;
        status(`${file}: ${mb(loaded)}${total ? ` of ${mb(total)}` : ''}${fromCache ? ' (from the browser cache)' : ''}`);
      },
    });
    const b = model.backend;
    status(
      `loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s on ${b.name} (${b.dtype}${b.threads ? `, ${b.threads} threads` : ''})`,
    );
    $('score').disabled = imageBytes === null;
  } catch (e) {
    status(`cannot load: ${e.message}`);
  } finally {
    $('load').disabled = false;
  }
};

async function setImage(blob) {
  imageBytes = new Uint8Array(await blob.arrayBuffer());
  const rgb = decodeImage(imageBytes, blob.name ?? 'image');
  drawRgb($('preview'), rgb);
  $('preview').hidden = false;
  $('score').disabled = model === null;
}

function drawRgb(canvas, rgb) {
  canvas.width = rgb.width;
  canvas.height = rgb.height;
  const data = new ImageData(rgb.width, rgb.height);
  for (let i = 0, j = 0; i < rgb.data.length; i += 3, j += 4) {
    data.data[j] = rgb.data[i];
    data.data[j + 1] = rgb.data[i + 1];
    data.data[j + 2] = rgb.data[i + 2];
    data.data[j + 3] = 255;
  }
  canvas.getContext('2d').putImageData(data, 0, 0);
}

$('imageFile').onchange = () => {
  if ($('imageFile').files[0]) setImage($('imageFile').files[0]).catch((e) => status(e.message));
};
$('drop').ondragover = (e) => {
  e.preventDefault();
  $('drop').classList.add('over');
};
$('drop').ondragleave = () => $('drop').classList.remove('over');
$('drop').ondrop = (e) => {
  e.preventDefault();
  $('drop').classList.remove('over');
  const f = e.dataTransfer.files[0];
  if (f) setImage(f).catch((err) => status(err.message));
};

$('score').onclick = async () => {
  const captions = $('captions')
    .value.split('\n')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!model || !imageBytes || !captions.length) return;
  $('score').disabled = true;
  const t0 = performance.now();
  try {
    const [embedding] = await model.encodeImages([imageBytes]);
    try {
      const { probs } = await model.match([embedding], captions);
      const cos = await model.similarity([embedding], captions);
      const body = $('results').tBodies[0];
      body.replaceChildren();
      captions.forEach((c, j) => {
        const row = body.insertRow();
        row.insertCell().textContent = c;
        row.insertCell().textContent = probs[0][j].toFixed(4);
        row.insertCell().textContent = cos[0][j].toFixed(4);
        const btn = document.createElement('button');
        btn.textContent = 'Grad-CAM';
        btn.onclick = () => showGradcam(c);
        row.insertCell().append(btn);
      });
      $('results').hidden = false;
      status(`scored ${captions.length} captions in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    } finally {
      embedding.dispose();
    }
  } catch (e) {
    status(`cannot score: ${e.message}`);
  } finally {
    $('score').disabled = false;
  }
};

async function showGradcam(caption) {
  const cam = await model.gradcam(imageBytes, caption);
  const rgb = decodeImage(imageBytes);
  $('tokens').replaceChildren();
  const show = (i, btn) => {
    for (const b of $('tokens').children) b.classList.remove('on');
    btn.classList.add('on');
    drawRgb($('overlay'), overlayMap(rgb, { data: cam.maps[i], width: cam.grid, height: cam.grid }));
  };
  cam.tokens.forEach((t, i) => {
    if (t === '[CLS]' || t === '[SEP]' || t === '[ENC]') return;
    const btn = document.createElement('button');
    btn.textContent = t;
    btn.onclick = () => show(i, btn);
    $('tokens').append(btn);
  });
  $('camBox').hidden = false;
  const first = $('tokens').children[0];
  if (first) first.click();
  status(`Grad-CAM of "${caption}": ITM probability ${cam.probability.toFixed(4)}, text layer ${cam.layer}`);
}
