// What watch.js and publish.js share: the link's fragment, the WHEP/WHIP
// exchange with its status handling, the reconnect loop with backoff, and
// the stats overlay. A classic script (not a module) so the pages also load
// from file:// when checked by hand; it defines one global, CascadeEdge.
'use strict';

window.CascadeEdge = (() => {
  const FIRST_RETRY_MS = 1000;
  const MAX_RETRY_MS = 10000;
  // ICE and DTLS must complete within this after the answer; a relay that
  // restarted between our POST and our checks would otherwise leave the
  // connection 'connecting' until the browser's own ICE timeout (~30 s).
  const SETUP_TIMEOUT_MS = 10000;
  // How long 'disconnected' may last before we start over: ICE often
  // recovers from a short loss by itself, a restarted relay never does.
  const DISCONNECTED_GRACE_MS = 3000;
  const POST_TIMEOUT_MS = 10000;

  // `#stream=S&token=T`, then for the center's program feed one
  // `&mirror=HOST:PORT&mirror_token=T` pair per other national relay ->
  // {stream, token, mirrors: [{address, token}], missing: [names not
  // given], badMirrors: [addresses that are not HOST:PORT]}.
  function readFragment() {
    const params = new URLSearchParams(window.location.hash.replace(/^#/, ''));
    const link = {
      stream: params.get('stream') || '',
      token: params.get('token') || '',
    };
    link.missing = ['stream', 'token'].filter((name) => !link[name]);
    const addresses = params.getAll('mirror');
    const tokens = params.getAll('mirror_token');
    if (addresses.length !== tokens.length || tokens.some((t) => !t)) {
      link.missing.push('mirror_token for each mirror');
    }
    link.mirrors = addresses.map((address, i) => ({address, token: tokens[i]}));
    // Only an authority: nothing that could change the path or the scheme.
    link.badMirrors = addresses.filter(
        (address) => !/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$/
            .test(address));
    return link;
  }

  // 1 s doubling to 10 s; reset once a session connects.
  class Backoff {
    constructor() {
      this.reset();
    }
    reset() {
      this.delayMs = FIRST_RETRY_MS;
    }
    next() {
      const delay = this.delayMs;
      this.delayMs = Math.min(this.delayMs * 2, MAX_RETRY_MS);
      return delay;
    }
  }

  // A refused or failed exchange. kind: 'expired' (401, final), 'fatal'
  // (any other 4xx, final) or 'retry' (429, 503, 5xx, network; retryAfterMs is
  // the relay's Retry-After or null for our own backoff).
  class ExchangeError extends Error {
    constructor(kind, message, retryAfterMs = null) {
      super(message);
      this.kind = kind;
      this.retryAfterMs = retryAfterMs;
    }
  }

  // Retry-After is delta-seconds or an HTTP date (RFC 9110, 10.2.3).
  function retryAfterMs(header) {
    if (!header) return null;
    if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
    const at = Date.parse(header);
    return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
  }

  // What a refusal means to the person holding the link.
  function refusalText(status, body, link) {
    const detail = body.trim() ? ` (${body.trim()})` : '';
    switch (status) {
      case 401:
        return 'This link has expired or is not valid; ' +
            'ask the command center for a new one.';
      case 403:
        return 'This link is not valid for this stream on this relay; ' +
            'ask the command center for a new one.' + detail;
      case 404:
        return `Stream "${link.stream}" is not available on this relay.` +
            detail;
      default:
        return `The relay refused the connection: HTTP ${status}${detail}.`;
    }
  }

  // POSTs the offer to `endpoint` (/whep/S or /whip/S, on this relay or,
  // for a mirror or the console, an absolute URL of another relay's edge);
  // resolves to {answer, location} on 201, else throws an ExchangeError.
  async function postOffer(endpoint, link, offerSdp) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), POST_TIMEOUT_MS);
    let response;
    let body;
    try {
      response = await fetch(endpoint, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/sdp',
          'Authorization': `Bearer ${link.token}`,
        },
        body: offerSdp,
        cache: 'no-store',
        signal: abort.signal,
      });
      body = await response.text();
    } catch (error) {
      throw new ExchangeError('retry', `relay unreachable: ${error.message}`);
    } finally {
      clearTimeout(timer);
    }
    if (response.status === 201) {
      const location = response.headers.get('Location');
      // The session URL is relative to the resource (/whep/S/ID).
      const base = response.url || window.location.href;
      return {
        answer: body,
        location: location ? new URL(location, base).href : null,
      };
    }
    if (response.status === 401) {
      throw new ExchangeError('expired', refusalText(401, body, link));
    }
    // Full (503), or too many attempts from this address (429: a whole
    // district behind one NAT reconnecting at once): come back later.
    if (response.status === 503 || response.status === 429) {
      throw new ExchangeError(
          'retry', `relay busy: HTTP ${response.status} ${body.trim()}`,
          retryAfterMs(response.headers.get('Retry-After')));
    }
    if (response.status >= 500) {
      throw new ExchangeError('retry', `relay error: HTTP ${response.status}`);
    }
    // WHIP: the stream's publisher before this one (ours, unless the DELETE
    // was lost) still counts as live; the relay replaces it once it has been
    // silent for 5 s.
    if (response.status === 409) {
      throw new ExchangeError('retry', `relay busy: ${body.trim()}`);
    }
    throw new ExchangeError('fatal', refusalText(response.status, body, link));
  }

  // Ends a session on the relay. keepalive lets it outlive the page on
  // pagehide; failures do not matter (the relay's consent timer ends it).
  function deleteSession(location, link) {
    if (!location) return;
    fetch(location, {
      method: 'DELETE',
      headers: {'Authorization': `Bearer ${link.token}`},
      keepalive: true,
    }).catch(() => {});
  }

  // One WebRTC session after another until stopped or refused for good.
  // options: endpoint, link, status (the page's window.cascade* object,
  // kept current: pc, state, sessions, answeredAt, lastError),
  // setup(pc) adds the page's transceivers, onSession(pc) runs once the
  // answer is applied, onState(state, message) updates the page.
  class SessionLoop {
    constructor(options) {
      this.options = options;
      this.status = options.status;
      this.backoff = new Backoff();
      this.generation = 0;  // stale callbacks compare theirs to this
      this.location = null;
      this.retryTimer = null;
      this.setupTimer = null;
      this.disconnectTimer = null;
      this.stopped = false;
    }

    setState(state, message = '') {
      this.status.state = state;
      this.options.onState(state, message);
    }

    start() {
      if (typeof RTCPeerConnection === 'undefined') {
        this.status.lastError = 'this browser does not support WebRTC';
        this.setState('failed', this.status.lastError);
        return;
      }
      this.stopped = false;
      this.connect();
    }

    // Tears the session down for good (pagehide, refusal).
    stop() {
      this.stopped = true;
      this.teardown();
    }

    // Gives up on the current session and negotiates a new one after the
    // next backoff delay (or `delayMs`).
    restart(reason, delayMs = null) {
      if (this.stopped) return;
      this.teardown();
      this.status.lastError = reason;
      const delay = delayMs === null ? this.backoff.next() : delayMs;
      this.setState('reconnecting', `${reason}; retrying in ${
          Math.round(delay / 1000)} s`);
      this.retryTimer = setTimeout(() => this.connect(), delay);
    }

    teardown() {
      ++this.generation;
      clearTimeout(this.retryTimer);
      clearTimeout(this.setupTimer);
      clearTimeout(this.disconnectTimer);
      const pc = this.status.pc;
      if (pc) {
        // Handlers off first: close() must not look like a failure.
        pc.onconnectionstatechange = null;
        pc.ontrack = null;
        pc.close();
        this.status.pc = null;
      }
      deleteSession(this.location, this.options.link);
      this.location = null;
    }

    async connect() {
      const generation = ++this.generation;
      const current = () => generation === this.generation && !this.stopped;
      // 'connecting' only the first time: afterwards the viewer has lost
      // what it had until a session connects again.
      if (this.status.state !== 'reconnecting') this.setState('connecting');
      // No ICE servers: the relay is ICE-lite and its answer carries its
      // host candidates.
      const pc =
          new RTCPeerConnection({iceServers: [], bundlePolicy: 'max-bundle'});
      this.status.pc = pc;
      pc.onconnectionstatechange = () => {
        if (current()) this.onConnectionState(pc.connectionState);
      };
      try {
        this.options.setup(pc);
        // No waiting for ICE gathering: an ICE-lite relay needs none of our
        // candidates, it answers the checks we send it.
        await pc.setLocalDescription(await pc.createOffer());
        const exchange = await postOffer(
            this.options.endpoint, this.options.link, pc.localDescription.sdp);
        if (!current()) {
          deleteSession(exchange.location, this.options.link);
          return;
        }
        this.location = exchange.location;
        this.status.sessions += 1;
        this.status.answeredAt = performance.now();
        await pc.setRemoteDescription({type: 'answer', sdp: exchange.answer});
      } catch (error) {
        if (current()) this.onError(error);
        return;
      }
      if (!current()) return;
      // The answer's tracks have all been announced (ontrack) by now.
      this.options.onSession(pc);
      this.watchDtls(pc, current);
      this.setupTimer = setTimeout(() => {
        if (current() && pc.connectionState !== 'connected') {
          this.restart('no connection to the relay');
        }
      }, SETUP_TIMEOUT_MS);
    }

    // A relay that ends the session (DELETE elsewhere, shutting down) sends
    // a DTLS close_notify. The connection state does not show it (a closed
    // transport counts as connected) and ICE would only notice seconds
    // later, so the DTLS transport is watched itself.
    watchDtls(pc, current) {
      const transports = new Set(pc.getTransceivers()
          .map((transceiver) => transceiver.sender.transport)
          .filter(Boolean));
      for (const transport of transports) {
        transport.addEventListener('statechange', () => {
          if (!current()) return;
          if (transport.state === 'closed' || transport.state === 'failed') {
            this.restart(`the relay ended the session (DTLS ${
                transport.state})`);
          }
        });
      }
    }

    onError(error) {
      if (!(error instanceof ExchangeError)) {
        // A local WebRTC error (e.g. an answer the browser rejects): it
        // may be a relay mid-upgrade, so retry rather than give up.
        this.restart(`negotiation failed: ${error.message}`);
        return;
      }
      if (error.kind === 'retry') {
        this.restart(error.message, error.retryAfterMs);
        return;
      }
      this.stop();
      this.status.lastError = error.message;
      this.setState(error.kind === 'expired' ? 'expired' : 'failed',
          error.message);
    }

    onConnectionState(state) {
      clearTimeout(this.disconnectTimer);
      if (state === 'connected') {
        clearTimeout(this.setupTimer);
        this.backoff.reset();
        this.setState('connected');
      } else if (state === 'disconnected') {
        this.disconnectTimer = setTimeout(
            () => this.restart('connection lost'), DISCONNECTED_GRACE_MS);
      } else if (state === 'failed' || state === 'closed') {
        // 'closed' on a connection we did not close: the relay ended it.
        this.restart(`connection ${state}`);
      }
    }
  }

  // The small overlay's figures, sampled from getStats once a second.
  // Bitrates need the previous sample's byte counts.
  class StatsSampler {
    constructor() {
      this.previous = new Map();  // stats id -> {bytes, timestamp}
    }

    kbps(report, bytes) {
      const before = this.previous.get(report.id);
      this.previous.set(report.id, {bytes, timestamp: report.timestamp});
      if (!before || report.timestamp <= before.timestamp) return null;
      // timestamps are in milliseconds: bits per ms == kbit/s.
      return (bytes - before.bytes) * 8 / (report.timestamp - before.timestamp);
    }

    // -> {inVideo, inAudio, outVideo, outAudio, rttMs}; each present only
    // when the report has it.
    async sample(pc) {
      const report = await pc.getStats();
      const sample = {rttMs: null};
      let selectedPair = null;
      report.forEach((stats) => {
        if (stats.type === 'transport' && stats.selectedCandidatePairId) {
          selectedPair = report.get(stats.selectedCandidatePairId);
        }
      });
      report.forEach((stats) => {
        const kind = stats.kind === 'video' ? 'Video' : 'Audio';
        if (stats.type === 'inbound-rtp') {
          sample[`in${kind}`] =
              Object.assign({kbps: this.kbps(stats, stats.bytesReceived)}, stats);
        } else if (stats.type === 'outbound-rtp') {
          sample[`out${kind}`] =
              Object.assign({kbps: this.kbps(stats, stats.bytesSent)}, stats);
        } else if (!selectedPair && stats.type === 'candidate-pair' &&
                   stats.nominated && stats.state === 'succeeded') {
          selectedPair = stats;
        }
      });
      if (selectedPair && selectedPair.currentRoundTripTime !== undefined) {
        sample.rttMs = selectedPair.currentRoundTripTime * 1000;
      }
      return sample;
    }
  }

  function fixed(value, digits = 0) {
    return typeof value === 'number' ? value.toFixed(digits) : '-';
  }

  // Lines of text for the overlay (textContent, never HTML).
  function statsLines(sample) {
    const lines = [];
    const inVideo = sample.inVideo;
    if (inVideo) {
      lines.push(`video ${fixed(inVideo.kbps)} kbit/s, ` +
          `${fixed(inVideo.framesPerSecond)} fps, ` +
          `${inVideo.frameWidth || '-'}x${inVideo.frameHeight || '-'}`);
      lines.push(`lost ${fixed(inVideo.packetsLost)} video` +
          (sample.inAudio ? `, ${fixed(sample.inAudio.packetsLost)} audio` : ''));
      lines.push(`freezes ${fixed(inVideo.freezeCount)}, ` +
          `${fixed(inVideo.totalFreezesDuration, 1)} s frozen`);
    }
    const outVideo = sample.outVideo;
    if (outVideo) {
      lines.push(`video ${fixed(outVideo.kbps)} kbit/s, ` +
          `${fixed(outVideo.framesPerSecond)} fps, ` +
          `${outVideo.frameWidth || '-'}x${outVideo.frameHeight || '-'}`);
      if (outVideo.qualityLimitationReason &&
          outVideo.qualityLimitationReason !== 'none') {
        lines.push(`limited by ${outVideo.qualityLimitationReason}`);
      }
    }
    if (sample.outAudio) {
      lines.push(`audio ${fixed(sample.outAudio.kbps)} kbit/s`);
    }
    lines.push(`round trip ${fixed(sample.rttMs)} ms`);
    return lines;
  }

  const STATE_TEXT = {
    starting: 'Starting…',
    connecting: 'Connecting…',
    connected: 'Connected',
    reconnecting: 'Reconnecting…',
    failed: 'Failed',
    expired: 'Link expired',
  };

  // A state as the person reads it; `message` says why when there is a why.
  function stateText(state, message) {
    return STATE_TEXT[state] + (message ? `: ${message}` : '');
  }

  // The overlay's state line. The body's data-state lets style.css make a
  // final refusal prominent.
  function showState(element, state, message) {
    element.textContent = stateText(state, message);
    document.body.dataset.state = state;
  }

  return {
    readFragment,
    SessionLoop,
    StatsSampler,
    statsLines,
    stateText,
    showState,
  };
})();
