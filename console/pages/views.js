// The console's view wall: the sites on the big screen (selected upstream),
// up to nine, beside the program as the sites see it, each played over WHEP
// from the national relay's edge with the relay pages' own session loop
// (session.js, CascadeEdge). The wall follows the tree: a site selected by
// anyone (this page, another console, relayctl) gets a tile, a released
// one loses it, and the program's tile stays while any site has one. Each
// tile's link comes from the console's /console/api/watch (Admin
// MintEdgeToken, center): an operator's, audited; a viewer's is refused and
// the tile says so.
'use strict';

window.CascadeViews = (() => {
  const MAX_VIEWS = 9;
  // The program's tile, keyed apart from any site id.
  const PROGRAM = '';
  const STATS_INTERVAL_MS = 1000;
  // As watch.js: connected but decoding nothing this long starts over.
  const NO_FRAME_RESTART_MS = 5000;
  // A link refused this soon after it was minted is not an expiry.
  const MIN_RELINK_MS = 60000;

  // One site's tile and its WHEP session.
  class View {
    constructor(wall, site) {
      this.wall = wall;
      this.site = site;
      // What tests read, kept current by the session loop: pc, state...
      this.status = {pc: null, state: 'starting', sessions: 0, lastError: ''};
      this.loop = null;
      this.endpoint = '';  // the relay's WHEP resource, once minted
      this.sampler = null;
      this.framesDecoded = 0;
      this.progressAt = 0;
      this.stopped = false;

      this.element = document.createElement('figure');
      this.element.className = 'view';
      this.video = document.createElement('video');
      this.video.autoplay = true;
      this.video.playsInline = true;
      this.video.muted = true;
      this.video.title = 'Click for this site\'s sound (one site at a time)';
      this.video.addEventListener('click', () => wall.listenTo(this));
      const caption = document.createElement('figcaption');
      const name = document.createElement('span');
      name.className = 'view-name';
      this.line = document.createElement('span');
      this.line.className = 'view-state';
      if (site === PROGRAM) {
        name.textContent = 'program';
        caption.append(name, this.line);
      } else {
        name.textContent = site;
        name.addEventListener('click', () => wall.onPick(site));
        const release = document.createElement('button');
        release.type = 'button';
        release.textContent = 'release';
        release.dataset.action = 'release';
        release.addEventListener('click', () => wall.onRelease(site));
        caption.append(name, release, this.line);
      }
      this.element.append(this.video, caption);
      this.show('asking for a link');
      this.open();
    }

    show(text) {
      this.line.textContent = text;
    }

    // Mints the link, then plays it until stopped; a link that expires is
    // minted again.
    async open() {
      let link;
      try {
        link = await this.wall.mint(this.site);
      } catch (error) {
        this.status.state = 'failed';
        this.status.lastError = error.message;
        this.show(error.message);
        return;
      }
      if (this.stopped) return;
      const mintedAt = performance.now();
      const stream = link.stream;
      let incoming = null;
      this.endpoint = new URL(link.url).origin + '/whep/' + encodeURIComponent(stream);
      this.loop = new CascadeEdge.SessionLoop({
        endpoint: this.endpoint,
        link: {stream, token: link.token},
        status: this.status,
        setup: (pc) => {
          pc.addTransceiver('video', {direction: 'recvonly'});
          pc.addTransceiver('audio', {direction: 'recvonly'});
          incoming = new MediaStream();
          pc.ontrack = (event) => incoming.addTrack(event.track);
        },
        onSession: () => {
          this.sampler = new CascadeEdge.StatsSampler();
          this.video.srcObject = incoming;
          this.video.play().catch(() => {});
        },
        onState: (state, message) => {
          this.show(state + (message ? ': ' + message : ''));
          if (state === 'connected') {
            this.framesDecoded = 0;
            this.progressAt = performance.now();
          } else if (state === 'expired' && !this.stopped &&
                     performance.now() - mintedAt > MIN_RELINK_MS) {
            // An old link ran out: a new one. A fresh one refused is final.
            this.loop = null;
            this.open();
          }
        },
      });
      this.loop.start();
    }

    async tick() {
      const pc = this.status.pc;
      if (!pc || !this.sampler || this.status.state !== 'connected') return;
      const sample = await this.sampler.sample(pc);
      if (pc !== this.status.pc || !this.loop) return;
      const decoded = sample.inVideo ? sample.inVideo.framesDecoded || 0 : 0;
      const now = performance.now();
      if (decoded > this.framesDecoded) {
        this.framesDecoded = decoded;
        this.progressAt = now;
      } else if (now - this.progressAt > NO_FRAME_RESTART_MS) {
        this.loop.restart('no video for ' + NO_FRAME_RESTART_MS / 1000 + ' s');
        return;
      }
      this.show(CascadeEdge.statsLines(sample)[0] || 'connected');
    }

    stop() {
      this.stopped = true;
      if (this.loop) this.loop.stop();
      this.video.srcObject = null;
      this.element.remove();
    }
  }

  // options: element (the wall's container), headers() (the console's
  // credential), onPick(site), onRelease(site).
  class Wall {
    constructor(options) {
      this.element = options.element;
      this.headers = options.headers;
      this.onPick = options.onPick;
      this.onRelease = options.onRelease;
      this.views = new Map();  // site -> View, in the order selected
      setInterval(() => {
        for (const view of this.views.values()) view.tick().catch(() => {});
      }, STATS_INTERVAL_MS);
      window.addEventListener('pagehide', () => this.sync([]));
    }

    // Follows the tree (id -> ConsoleNode): its selected sites, those
    // already shown first; true when the wall appeared or went away.
    follow(nodes) {
      const selected = [...nodes.values()]
          .filter((node) => node.upstreamSelected && node.tier === 'TIER_SITE')
          .map((node) => node.id);
      const chosen = new Set(selected);
      const kept = [...this.views.keys()].filter((site) => chosen.has(site));
      const added = selected.filter((site) => !this.views.has(site)).sort();
      return this.sync(kept.concat(added));
    }

    // Shows exactly the first nine of `sites`, after the program when there
    // is any; true when the wall appeared or went away.
    sync(sites) {
      const shown = sites.slice(0, MAX_VIEWS);
      const wanted = new Set(shown.length > 0 ? [PROGRAM, ...shown] : []);
      const before = this.views.size > 0;
      for (const [site, view] of this.views) {
        if (!wanted.has(site)) {
          view.stop();
          this.views.delete(site);
        }
      }
      for (const site of wanted) {
        if (this.views.has(site)) continue;
        const view = new View(this, site);
        this.views.set(site, view);
        this.element.append(view.element);
      }
      this.element.hidden = this.views.size === 0;
      this.element.dataset.count = String(this.views.size);
      return before !== this.views.size > 0;
    }

    // The site's (or the program's) watch link (MintEdgeTokenResponse
    // JSON); throws why not.
    async mint(site) {
      const response = await fetch(
          '/console/api/watch' +
              (site === PROGRAM ? '' : '?node=' + encodeURIComponent(site)),
          {method: 'POST', headers: this.headers(), cache: 'no-store'});
      if (!response.ok) {
        throw new Error('no link: ' + response.status + ' ' +
            (await response.text()).trim());
      }
      return response.json();
    }

    // One site heard at a time: nine open microphones are noise.
    listenTo(chosen) {
      for (const view of this.views.values()) {
        view.video.muted = view !== chosen || !view.video.muted;
      }
    }
  }

  return {Wall, MAX_VIEWS, PROGRAM};
})();
