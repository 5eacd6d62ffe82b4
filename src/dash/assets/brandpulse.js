/* BrandPulse live scoring, in the browser (docs/web.md explains the whole flow).
 *
 * throttleScore puts the review text into the `score-request` store at most once per INTERVAL_MS
 * while the visitor types, plus once when they stop; each request carries a sequence number. The
 * Dash server scores it through the API into `score-result`, and applyScore shows a result only
 * if it is newer than the one on screen, so a slow answer never overwrites the score of newer text.
 * A `change` event on the star rating (only the visitor causes one) marks the rating as chosen.
 */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    brandpulse: (function () {
        "use strict";
        var INTERVAL_MS = 250;
        var seq = 0;
        var lastSent = 0;
        var lastText = null;
        var timer = null;

        function send(text) {
            timer = null;
            if (!document.getElementById("review-text")) {
                return;  // the visitor left the review page meanwhile
            }
            if (text === lastText) {
                return;
            }
            seq += 1;
            lastText = text;
            if (text) {
                lastSent = Date.now();
            }
            window.dash_clientside.set_props("score-request", {data: {seq: seq, text: text}});
        }

        document.addEventListener("change", function (event) {
            var target = event.target;
            if (target && target.closest && target.closest("#rating-input")) {
                window.dash_clientside.set_props("rating-touched", {data: true});
            }
        });

        return {
            throttleScore: function (value) {
                var text = typeof value === "string" ? value : "";
                if (timer !== null) {
                    clearTimeout(timer);
                    timer = null;
                }
                if (!text.trim()) {
                    send("");  // an empty box resets the bar at once
                } else {
                    var wait = lastSent + INTERVAL_MS - Date.now();
                    if (wait <= 0) {
                        send(text);
                    } else {
                        timer = setTimeout(send, wait, text);
                    }
                }
                return window.dash_clientside.no_update;
            },

            applyScore: function (result, shown, touched) {
                var skip = window.dash_clientside.no_update;
                if (!result || (shown && result.seq <= shown.seq)) {
                    return [skip, skip, skip, skip, skip, skip, skip];  // stale: newer text is on screen
                }
                var rating = touched ? skip : result.suggested;
                return [
                    result.percent, result.label, result.color, result.status, String(result.text.length),
                    result, rating
                ];
            },

            submitDisabled: function (text, brand) {
                return !(text && text.trim()) || !brand;
            }
        };
    })()
});
