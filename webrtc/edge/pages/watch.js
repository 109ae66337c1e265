// The viewer (watch.html): one relay stream watched over WHEP, full screen
// with sound, reconnecting by itself. The link's fragment names the stream
// and carries the token (a fragment never reaches a server or a log).
'use strict';

(() => {
  const STATS_INTERVAL_MS = 1000;
  // A connected session that decodes nothing is as broken as a failed one
  // (e.g. the relay restarted and ICE has not noticed yet).
  const NO_FRAME_RESTART_MS = 5000;

  const video = document.getElementById('video');
  const soundButton = document.getElementById('sound');
  const stateLine = document.getElementById('state');
  const statsBox = document.getElementById('stats');

  // What automated tests read; kept current by the loop and this page.
  const viewer = {
    pc: null,
    state: 'starting',
    sessions: 0,
    answeredAt: null,
    // performance.now() when the current session connected (ICE and DTLS
    // done) and when its first frame was presented.
    connectedAt: null,
    firstFrameAt: null,
    lastError: '',
  };
  window.cascadeViewer = viewer;

  // The stream the current session's tracks go into; shown once answered.
  let incoming = null;
  let sampler = null;
  // Decoding progress of the current session, for the no-frame restart.
  let framesDecoded = 0;
  let progressAt = 0;

  // Unmuted if the browser allows it, else muted with a button: browsers
  // refuse unmuted autoplay without a user gesture on the site.
  async function startPlayback() {
    video.muted = !soundButton.hidden;
    try {
      await video.play();
    } catch (error) {
      // AbortError: a newer session replaced srcObject; nothing to do.
      if (error.name !== 'NotAllowedError' || video.muted) return;
      video.muted = true;
      soundButton.hidden = false;
      video.play().catch(() => {});
    }
  }

  soundButton.addEventListener('click', () => {
    soundButton.hidden = true;
    video.muted = false;
    video.play().catch(() => {});
  });

  function watchFirstFrame(stream) {
    video.requestVideoFrameCallback((now, metadata) => {
      if (stream !== incoming) return;  // a later session took over
      viewer.firstFrameAt = metadata.presentationTime;
    });
  }

  function onState(state, message) {
    CascadeEdge.showState(stateLine, state, message);
    if (state === 'connected') {
      if (viewer.connectedAt === null) viewer.connectedAt = performance.now();
      framesDecoded = 0;
      progressAt = performance.now();
    }
  }

  const link = CascadeEdge.readFragment();
  const loop = new CascadeEdge.SessionLoop({
    endpoint: `/whep/${encodeURIComponent(link.stream)}`,
    link,
    status: viewer,
    setup(pc) {
      pc.addTransceiver('video', {direction: 'recvonly'});
      pc.addTransceiver('audio', {direction: 'recvonly'});
      const stream = new MediaStream();
      pc.ontrack = (event) => stream.addTrack(event.track);
      incoming = stream;
    },
    // After the answer is applied, so the tracks are all in `incoming`.
    onSession() {
      viewer.firstFrameAt = null;
      viewer.connectedAt = null;
      sampler = new CascadeEdge.StatsSampler();
      video.srcObject = incoming;
      watchFirstFrame(incoming);
      startPlayback();
    },
    onState,
  });

  async function tick() {
    const pc = viewer.pc;
    if (!pc || !sampler) return;
    const sample = await sampler.sample(pc);
    if (pc !== viewer.pc) return;
    statsBox.textContent = CascadeEdge.statsLines(sample).join('\n');
    if (viewer.state !== 'connected') return;
    const decoded = sample.inVideo ? sample.inVideo.framesDecoded || 0 : 0;
    const now = performance.now();
    if (decoded > framesDecoded) {
      framesDecoded = decoded;
      progressAt = now;
    } else if (now - progressAt > NO_FRAME_RESTART_MS) {
      loop.restart(`no video for ${NO_FRAME_RESTART_MS / 1000} s`);
    }
  }

  if (link.missing.length) {
    viewer.state = 'failed';
    viewer.lastError = `This link is incomplete: no ${
        link.missing.join(' and no ')}. Open the full link from the ` +
        'command center (…/watch#stream=NAME&token=TOKEN).';
    CascadeEdge.showState(stateLine, 'failed', viewer.lastError);
    return;
  }
  setInterval(() => tick().catch(() => {}), STATS_INTERVAL_MS);
  // pagehide, not unload: it also fires when the page enters the
  // back/forward cache, and keepalive lets the DELETE finish.
  window.addEventListener('pagehide', () => loop.stop());
  window.addEventListener('pageshow', (event) => {
    if (event.persisted) loop.start();
  });
  // A new link pasted into the same tab changes only the fragment.
  window.addEventListener('hashchange', () => window.location.reload());
  loop.start();
})();
