/*
 * ffliverec status page: stand-in for /player/hls.min.js, built into ffliverec when the hls.js npm
 * package was not installed at build time. It defines no Hls; it makes the page say why.
 */
(function () {
    'use strict';
    var message = 'The player is missing: hls.js was not installed when ffliverec was built. ' +
                  'Run liverec/install-deps, rebuild (make) and restart ffliverec -serve.';
    window.LIVEREC_HLSJS_MISSING = message;
    function show() {
        var p = document.getElementById('player-status');
        if (p) {
            p.textContent = message;
            p.className = 'missing';
        }
    }
    if (document.readyState === 'loading')
        document.addEventListener('DOMContentLoaded', show);
    else
        show();
})();
