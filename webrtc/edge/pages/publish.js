// The publisher (publish.html): a site's camera and microphone sent to the
// relay over WHIP, with a local preview, microphone and camera toggles, and
// reconnection by itself. The link's fragment names the stream and carries
// the token. The command center's link also names mirrors, the other
// national relays: the same tracks go to each in a WHIP session of its own,
// so the standby national relay has the program when the active one fails.
'use strict';

(() => {
  const STATS_INTERVAL_MS = 1000;
  // 720p30 is what H.264 level 3.1 (the relay's 42e01f) can carry.
  const CONSTRAINTS = {
    video: {
      width: {ideal: 1280},
      height: {ideal: 720},
      frameRate: {ideal: 30, max: 30},
    },
    audio: true,
  };

  const preview = document.getElementById('preview');
  const micButton = document.getElementById('mic');
  const cameraButton = document.getElementById('camera');
  const stateLine = document.getElementById('state');
  const statsBox = document.getElementById('stats');
  const relaysBox = document.getElementById('relays');

  // A session's status, kept current by its loop.
  function newStatus(address) {
    return {
      address,
      pc: null,
      state: 'starting',
      sessions: 0,
      answeredAt: null,
      lastError: '',
    };
  }

  // What automated tests read: this relay's session, and `mirrors`, one
  // status per mirror in the link's order.
  const publisher = newStatus(window.location.host);
  publisher.mirrors = [];
  window.cascadePublisher = publisher;

  let local = null;  // the camera and microphone, kept across sessions
  let sampler = null;

  function fail(message) {
    publisher.state = 'failed';
    publisher.lastError = message;
    CascadeEdge.showState(stateLine, 'failed', message);
  }

  // Lower rank first; Array.prototype.sort is stable, so the browser's own
  // order holds within a rank.
  function rankVideo(codec) {
    if (codec.mimeType.toLowerCase() !== 'video/h264') return 2;
    const fmtp = codec.sdpFmtpLine || '';
    if (!/packetization-mode=1/.test(fmtp)) return 2;
    // Constrained baseline, the relay's profile, before other H.264s.
    return /profile-level-id=42e0/i.test(fmtp) ? 0 : 1;
  }

  function rankAudio(codec) {
    return codec.mimeType.toLowerCase() === 'audio/opus' ? 0 : 1;
  }

  // Puts the relay's codecs first; the others stay as fallbacks. Browsers
  // differ on whether sender capabilities are accepted here, so try the
  // sender's list, then the receiver's; without either the relay's answer
  // still picks its codec.
  function preferCodecs(transceiver, kind, rank) {
    if (!transceiver.setCodecPreferences) return;
    for (const side of [RTCRtpSender, RTCRtpReceiver]) {
      const capabilities = side.getCapabilities && side.getCapabilities(kind);
      if (!capabilities) continue;
      const codecs = capabilities.codecs.slice()
          .sort((a, b) => rank(a) - rank(b));
      try {
        transceiver.setCodecPreferences(codecs);
        return;
      } catch (error) {
        // InvalidModificationError: try the other list.
      }
    }
  }

  function mediaErrorText(error) {
    switch (error.name) {
      case 'NotAllowedError':
        return 'Camera and microphone access was refused; allow it in the ' +
            'browser and reload the page.';
      case 'NotFoundError':
        return 'No camera or microphone was found.';
      case 'NotReadableError':
        return 'The camera or microphone is in use by another program.';
      default:
        return `Camera or microphone unavailable: ${error.message}`;
    }
  }

  // aria-pressed marks the "off" state, which style.css shows in red.
  function bindToggle(button, track, onText, offText) {
    const render = () => {
      button.setAttribute('aria-pressed', String(!track.enabled));
      button.textContent = track.enabled ? onText : offText;
    };
    button.addEventListener('click', () => {
      // A disabled track sends silence or black frames: the session and
      // the relay's stream stay up.
      track.enabled = !track.enabled;
      render();
    });
    button.disabled = false;
    render();
  }

  // Every session sends the same camera and microphone tracks.
  function addTracks(pc) {
    const [videoTrack] = local.getVideoTracks();
    const [audioTrack] = local.getAudioTracks();
    const video = pc.addTransceiver(
        videoTrack, {direction: 'sendonly', streams: [local]});
    preferCodecs(video, 'video', rankVideo);
    const audio = pc.addTransceiver(
        audioTrack, {direction: 'sendonly', streams: [local]});
    preferCodecs(audio, 'audio', rankAudio);
  }

  // With mirrors, one line per relay (textContent, never HTML).
  function showRelays() {
    if (!publisher.mirrors.length) return;
    relaysBox.textContent = [publisher, ...publisher.mirrors]
        .map((status) => `${status.address}: ${
          CascadeEdge.stateText(status.state, status.lastError &&
              status.state !== 'connected' ? status.lastError : '')}`)
        .join('\n');
  }

  const link = CascadeEdge.readFragment();
  const whipPath = `/whip/${encodeURIComponent(link.stream)}`;
  const loops = [new CascadeEdge.SessionLoop({
    endpoint: whipPath,
    link,
    status: publisher,
    setup: addTracks,
    onSession() {
      sampler = new CascadeEdge.StatsSampler();
    },
    onState(state, message) {
      CascadeEdge.showState(stateLine, state, message);
      showRelays();
    },
  })];
  // Each mirror reconnects by itself; its refusal leaves the others going.
  for (const mirror of link.badMirrors.length ? [] : link.mirrors) {
    const status = newStatus(mirror.address);
    publisher.mirrors.push(status);
    loops.push(new CascadeEdge.SessionLoop({
      endpoint: `${window.location.protocol}//${mirror.address}${whipPath}`,
      link: {stream: link.stream, token: mirror.token},
      status,
      setup: addTracks,
      onSession() {},
      onState: showRelays,
    }));
  }

  async function tick() {
    const pc = publisher.pc;
    if (!pc || !sampler) return;
    const sample = await sampler.sample(pc);
    if (pc === publisher.pc) {
      statsBox.textContent = CascadeEdge.statsLines(sample).join('\n');
    }
  }

  async function main() {
    if (link.missing.length) {
      fail(`This link is incomplete: no ${link.missing.join(' and no ')}. ` +
          'Open the full link from the command center ' +
          '(…/publish#stream=NAME&token=TOKEN).');
      return;
    }
    if (link.badMirrors.length) {
      fail(`This link names a relay that is not HOST:PORT: ${
        link.badMirrors.join(', ')}. Open the full link from the command ` +
          'center.');
      return;
    }
    if (!navigator.mediaDevices) {
      fail('Camera access needs a secure (https) page.');
      return;
    }
    try {
      local = await navigator.mediaDevices.getUserMedia(CONSTRAINTS);
    } catch (error) {
      fail(mediaErrorText(error));
      return;
    }
    if (!local.getVideoTracks().length || !local.getAudioTracks().length) {
      fail('Both a camera and a microphone are needed.');
      return;
    }
    preview.srcObject = local;
    preview.play().catch(() => {});
    bindToggle(micButton, local.getAudioTracks()[0],
        'Mute microphone', 'Unmute microphone');
    bindToggle(cameraButton, local.getVideoTracks()[0],
        'Turn camera off', 'Turn camera on');
    setInterval(() => tick().catch(() => {}), STATS_INTERVAL_MS);
    window.addEventListener('pagehide', () => loops.forEach((l) => l.stop()));
    window.addEventListener('pageshow', (event) => {
      if (event.persisted) loops.forEach((l) => l.start());
    });
    loops.forEach((l) => l.start());
  }

  // A new link pasted into the same tab changes only the fragment.
  window.addEventListener('hashchange', () => window.location.reload());
  main();
})();
