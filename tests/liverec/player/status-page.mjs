// Drive ffliverec -serve's status page (GET /) in Debian's headless Chromium, as an operator would.
// usage: node status-page.mjs SERVICE_URL DOMAIN/APP/STREAM OUT_DIR TIMEOUT_SECONDS USER_DATA_DIR
// Prints one line per step, each a word and a JSON object, as it happens (the test waits on them):
//   PAGE     the page is loaded (hls.js too): the test may start pushing
//   LIVE     the stream's row shows phase "recording"; OUT_DIR/status-live.png taken
//   LIVEPLAY at its second push, its play button plays the open HLS recording (2 s of it)
//   LISTED   its finished HLS recording's row is in the recordings table, play button enabled
//   PLAYED   after a click on that button: what hls.js in the page's video did; status-played.png
// An ERROR line and exit status 1 when a step does not happen within TIMEOUT_SECONDS.
import { chromium } from 'playwright-core';

const [base, key, outDir, timeoutArg, userDataDir] = process.argv.slice(2);
const timeout = Number(timeoutArg || 90) * 1000;
const say = (word, obj) => console.log(word + ' ' + JSON.stringify(obj));
const ctx = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.LR_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
           '--disable-component-update', '--disable-sync', '--no-first-run',
           '--disable-quic', '--autoplay-policy=no-user-gesture-required'],
});
let status = 0;
try {
    const page = await ctx.newPage();
    page.on('console', m => process.stderr.write(`console: ${m.text()} (${m.location().url || '-'})\n`));
    page.on('pageerror', e => process.stderr.write(`pageerror: ${e.message}\n`));
    page.on('response', r => {
        if (r.status() >= 400)
            process.stderr.write(`HTTP ${r.status()} ${r.url()}\n`);
    });
    const resp = await page.goto(base + '/');
    await page.waitForFunction(() => typeof Hls !== 'undefined' &&
        !document.querySelector('#service').textContent.startsWith('loading'), null, { timeout });
    say('PAGE', { status: resp.status(), hlsjs: await page.evaluate(() => Hls.version),
                  service: await page.textContent('#service') });

    // the live push: its row, in phase "recording" (the page refreshes every 2 s)
    const streamRow = `#streams tr[data-stream="${key}"]`;
    await page.waitForFunction(sel => {
        const tr = document.querySelector(sel);
        return tr && tr.cells[1] && tr.cells[1].textContent === 'recording';
    }, streamRow, { timeout, polling: 200 });
    const live = await page.evaluate(sel => {
        const tr = document.querySelector(sel);
        const b = tr.querySelector('button.play');
        return { cells: [...tr.cells].map(td => td.textContent), phaseClass: tr.cells[1].className,
                 livePlay: b ? !b.disabled : null,
                 queues: [...document.querySelectorAll('#queues b')].map(b => b.textContent),
                 error: document.querySelector('#error').hidden ? null : document.querySelector('#error').textContent };
    }, streamRow);
    await page.screenshot({ path: outDir + '/status-live.png', fullPage: true });
    say('LIVE', live);

    // at the second push the open HLS recording has push 1's segment: its row's play button
    // plays it live (GET /live/...) in the page's player
    await page.waitForFunction(sel => {
        const tr = document.querySelector(sel);
        return tr && tr.cells[1].textContent === 'recording' && tr.cells[2].textContent === '2';
    }, streamRow, { timeout, polling: 200 });
    await page.click(streamRow + ' button.play');
    if (!await page.evaluate(() => {
        const h = window.liverecPlayer;
        window.lrLive = { errors: [], fatal: null };
        h && h.on(Hls.Events.ERROR, (ev, d) => {
            window.lrLive.errors.push((d.fatal ? 'fatal ' : '') + d.type + '/' + d.details);
            if (d.fatal && !window.lrLive.fatal)
                window.lrLive.fatal = d.details;
        });
        return !!h;
    }))
        throw new Error('no window.liverecPlayer after the click on the live play button');
    const liveStart = Date.now();
    let lp;
    for (;;) {
        lp = await page.evaluate(() => ({
            currentTime: document.getElementById('player').currentTime, fatal: window.lrLive.fatal,
            errors: window.lrLive.errors, src: window.liverecPlayer.url,
            playerStatus: document.getElementById('player-status').textContent }));
        if (lp.currentTime >= 2 || lp.fatal || Date.now() - liveStart > timeout)
            break;
        await new Promise(res => setTimeout(res, 250));
    }
    lp.seconds = (Date.now() - liveStart) / 1000;
    say('LIVEPLAY', lp);

    // the finished HLS recording of that stream in the recordings table, playable
    const handle = await page.waitForFunction(k => {
        for (const tr of document.querySelectorAll('#recordings tr[data-recording]')) {
            const b = tr.querySelector('button.play');
            if (tr.cells[1].textContent === k && tr.cells[2].textContent === 'hls' && b && !b.disabled)
                return tr.getAttribute('data-recording');
        }
        return null;
    }, key, { timeout, polling: 200 });
    const id = await handle.jsonValue();
    const row = `#recordings tr[data-recording="${id}"]`;
    say('LISTED', { id, cells: await page.$$eval(row + ' td', tds => tds.map(td => td.textContent)),
                    url: await page.getAttribute(row + ' button.play', 'data-url'),
                    rows: await page.$$eval('#recordings tr[data-recording]', trs => trs.length) });

    // play it: the page's own player (hls.js, window.liverecPlayer) at twice the speed
    await page.evaluate(() => {
        const v = document.getElementById('player');
        window.lrTest = { ended: false, errors: [], fatal: null, cc: [], frags: 0 };
        v.addEventListener('ended', () => { window.lrTest.ended = true; });
        v.defaultPlaybackRate = 2;
        v.addEventListener('playing', () => { v.playbackRate = 2; });
    });
    await page.click(row + ' button.play');
    const hooked = await page.evaluate(() => {
        const h = window.liverecPlayer, t = window.lrTest;
        if (!h)
            return false;
        h.on(Hls.Events.ERROR, (ev, d) => {
            t.errors.push((d.fatal ? 'fatal ' : '') + d.type + '/' + d.details);
            if (d.fatal && !t.fatal)
                t.fatal = d.details;
        });
        h.on(Hls.Events.FRAG_CHANGED, (ev, d) => {
            t.frags++;
            if (!t.cc.includes(d.frag.cc))
                t.cc.push(d.frag.cc);
        });
        return true;
    });
    if (!hooked)
        throw new Error('no window.liverecPlayer after the click on play');
    const start = Date.now();
    let r;
    for (;;) {
        r = await page.evaluate(() => {
            const v = document.getElementById('player'), t = window.lrTest, h = window.liverecPlayer;
            const q = v.getVideoPlaybackQuality();
            return { currentTime: v.currentTime, duration: v.duration, ended: t.ended,
                     videoEnded: v.ended, fatal: t.fatal, errors: t.errors, cc: [...t.cc].sort(),
                     frags: t.frags, frames: q.totalVideoFrames, dropped: q.droppedVideoFrames,
                     rate: v.playbackRate, levels: h ? h.levels.length : 0,
                     src: h ? h.url : null,
                     playerStatus: document.getElementById('player-status').textContent };
        });
        if (r.ended || r.fatal || Date.now() - start > timeout)
            break;
        await new Promise(res => setTimeout(res, 250));
    }
    r.seconds = (Date.now() - start) / 1000;
    await page.screenshot({ path: outDir + '/status-played.png', fullPage: true });
    say('PLAYED', r);
} catch (e) {
    say('ERROR', { message: String(e && e.message || e) });
    status = 1;
} finally {
    await ctx.close();
}
process.exit(status);
