// Play an HLS playlist with hls.js in Debian's headless Chromium and report what happened.
// usage: node play-hls.mjs URL_OF_player.html?src=... TIMEOUT_SECONDS USER_DATA_DIR
// Prints one JSON object: currentTime, duration, ended, fatal, errors, frames, dropped, cc.
import { chromium } from 'playwright-core';

const [url, timeoutArg, userDataDir] = process.argv.slice(2);
const timeout = Number(timeoutArg || 120) * 1000;
const ctx = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.LR_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
           '--disable-component-update', '--disable-sync', '--no-first-run',
           '--disable-quic', '--autoplay-policy=no-user-gesture-required'],
});
let result;
try {
    const page = await ctx.newPage();
    page.on('console', m => process.stderr.write(`console: ${m.text()}\n`));
    await page.goto(url);
    const start = Date.now();
    for (;;) {
        result = await page.evaluate(() => {
            const v = document.getElementById('v');
            const q = v.getVideoPlaybackQuality();
            return { currentTime: v.currentTime, duration: window.lr.duration, live: window.lr.live,
                     ended: window.lr.ended, fatal: window.lr.fatal, errors: window.lr.errors,
                     frames: q.totalVideoFrames, dropped: q.droppedVideoFrames,
                     cc: [...window.lr.discontinuities].sort(), supported: window.lr.supported,
                     fragChanged: window.lr.fragChanged };
        });
        if (result.ended || result.fatal || Date.now() - start > timeout)
            break;
        await new Promise(r => setTimeout(r, 250));
    }
} finally {
    await ctx.close();
}
console.log(JSON.stringify(result));
