/* BrandPulse live scoring, in the browser (docs/web.md explains the whole flow).
 *
 * throttleScore puts the review text into the `score-request` store at most once per INTERVAL_MS
 * while the visitor types, plus once when they stop; each request carries a sequence number. The
 * Dash server scores it through the API into `score-result`, and applyScore shows a result only
 * if it is newer than the one on screen, so a slow answer never overwrites the score of newer text.
 * A `change` event on the star rating (only the visitor causes one) marks the rating as chosen and
 * records which suggestion, if any, was on screen at that moment (`rating-anchor`).
 *
 * Each browser session belongs to one group, drawn once at random and kept in sessionStorage:
 * "control" (with probability SUGGESTION_CONTROL_SHARE) or "suggested". A control session is never
 * shown the model's reading: its text is not scored while the visitor writes, the bar is hidden and
 * no star is pre-selected.
 */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    brandpulse: (function () {
        "use strict";
        var INTERVAL_MS = 250;
        var GROUP_KEY = "brandpulse.suggestion-group";
        var CONTROL = "control";
        var SUGGESTED = "suggested";
        var seq = 0;
        var lastSent = 0;
        var lastText = null;
        var timer = null;
        var visibleSuggestion = null;  // the suggested rating on screen (its star pre-selected), if any

        function storedGroup() {
            try {
                return window.sessionStorage.getItem(GROUP_KEY);
            } catch (error) {
                return null;  // storage disabled: a group for this page view only
            }
        }

        // The session's group: the one drawn earlier in this tab, else drawn now with P(control) = share.
        function group(share) {
            var known = storedGroup();
            if (known === CONTROL || known === SUGGESTED) {
                return known;
            }
            var probability = Number(share);
            if (share === null || share === undefined || !(probability >= 0 && probability <= 1)) {
                return SUGGESTED;  // no share known yet: show suggestions, decide nothing
            }
            var drawn = Math.random() < probability ? CONTROL : SUGGESTED;
            try {
                window.sessionStorage.setItem(GROUP_KEY, drawn);
            } catch (error) {
                // kept for this page view only
            }
            return drawn;
        }

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
                window.dash_clientside.set_props("rating-anchor", {data: visibleSuggestion});
                window.dash_clientside.set_props("rating-touched", {data: true});
            }
        });

        return {
            assignGroup: function (share) {
                var drawn = group(share);
                visibleSuggestion = null;  // a new review page: nothing shown yet
                return [drawn, drawn === CONTROL, drawn];
            },

            throttleScore: function (value, share) {
                if (group(share) === CONTROL) {
                    return window.dash_clientside.no_update;
                }
                var text = typeof value === "string" ? value : "";
                if (timer !== null) {
                    clearTimeout(timer);
                    timer = null;
                }
                if (!text.trim()) {
                    visibleSuggestion = null;  // on its way out: a star chosen now is not anchored
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

            applyScore: function (result, shown, touched, share) {
                var skip = window.dash_clientside.no_update;
                if (!result || (shown && result.seq <= shown.seq)) {
                    return [skip, skip, skip, skip, skip, skip, skip];  // stale: newer text is on screen
                }
                var length = String(result.text.length);
                if (group(share) === CONTROL) {  // never reached (no scoring), and never revealing
                    visibleSuggestion = null;
                    return [0, "", "secondary", "", length, skip, skip];
                }
                visibleSuggestion = result.suggested === undefined ? null : result.suggested;
                var rating = touched ? skip : result.suggested;
                return [result.percent, result.label, result.color, result.status, length, result, rating];
            },

            submitDisabled: function (text, brand) {
                return !(text && text.trim()) || !brand;
            }
        };
    })()
});
