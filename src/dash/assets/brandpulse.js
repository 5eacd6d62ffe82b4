/* BrandPulse live scoring, in the browser (docs/web.md explains the whole flow).
 *
 * throttleScore puts the review text into the `score-request` store as the visitor types, through a
 * token bucket (one token per INTERVAL_MS: the long-run rate; up to BURST kept): a key sends at once
 * when a token is there, else its text waits for the next key, or goes when the visitor stops for
 * HOLD_MS (and a token is there). Writers stop every few words, and each stop refills the bucket, so
 * the keys before a stop usually find a token and the score of what was just typed follows at once;
 * only typing on for longer than BURST tokens cover (about 5 s at 8 characters/s) makes keys wait.
 * A key that ends a sentence (. ! ? or a new line) is sent at once even without a token, borrowing
 * at most one (repaid by the next waits): that is where writers stop to think. Each
 * request carries a sequence number. The
 * Dash server scores it through the API into `score-result`, and applyScore shows a result only
 * if it is newer than the one on screen, so a slow answer never overwrites the score of newer text.
 * A `change` event on the star rating (only the visitor causes one) marks the rating as chosen and
 * records which suggestion, if any, was on screen at that moment (`rating-anchor`).
 *
 * Each browser session belongs to one group, drawn once at random and kept in sessionStorage:
 * "control" (with probability SUGGESTION_CONTROL_SHARE) or "suggested". A control session is never
 * shown the model's reading: its text is not scored while the visitor writes, the bar is hidden and
 * no star is pre-selected.
 *
 * Outages: when an API call gets no answer (a server callback says so in `api-trouble`) or the web
 * server does not answer a callback (seen by a wrapper around fetch), the page shows "Connection
 * lost", re-enables a form left disabled, and asks `connection-probe` again after 1, 2, 4 ... 30 s
 * until the API answers; then the current text is scored again. The text is kept in localStorage
 * (a draft, restored on the next visit) until it is submitted, and the bar greys once it is behind
 * the text. The counter under the box follows the API's length limits (`review-limits`).
 *
 * Words that stay true: once the bar is stale the status line says the estimate is out of date (and,
 * while the connection is lost, that a new one comes once it is back); when the connection returns,
 * the messages about it go. Keyboard: the brand picker shows the brand on screen (followBrand), so
 * the arrow keys move on from it; after a submit the focus goes back to the review box, and the
 * message is read out from a polite live region.
 */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    brandpulse: (function () {
        "use strict";
        var INTERVAL_MS = 160;  // one token per INTERVAL_MS: the sustained rate of scoring requests
        var BURST = 8;  // tokens kept at most: about a second of typing ahead of the long-run rate
        var HOLD_MS = 140;  // a text that found no token is sent once no key came for this long
        var SENTENCE_END = /[.!?\n]$/;  // a key after which writers usually pause: sent even on one borrowed token
        var MAX_DEBT = 1;  // tokens a sentence end may borrow: any T ms send at most BURST + 1 + T / INTERVAL_MS
        var GROUP_KEY = "brandpulse.suggestion-group";
        var CONTROL = "control";
        var SUGGESTED = "suggested";
        var seq = 0;
        var tokens = BURST;
        var refilled = 0;  // when `tokens` was last brought up to date (Date.now())
        var lastText = null;
        var timer = null;
        var visibleSuggestion = null;  // the suggested rating on screen (its star pre-selected), if any

        // ---- Outages, drafts, the stale bar and the counter (docs/web.md, "When the connection is lost").
        var DRAFT_KEY = "brandpulse.review-draft";  // localStorage: {text, brand} until it is submitted
        var RETRY_FIRST_S = 1;  // the first retry after an outage; each next one waits twice as long
        var RETRY_MAX_S = 30;
        var STALE_MS = 1000;  // a bar this much behind the text (no newer score came) turns grey
        var sessionGroup = null;  // this page's group, once assignGroup drew it
        var offline = false;
        var retryDelay = RETRY_FIRST_S;
        var retryTimer = null;
        var probes = 0;
        var currentText = "";
        var scoredText = null;  // the text whose reading the bar shows (null: none yet)
        var behindSince = 0;  // since when the bar has been behind the text, or when it last caught up
        var staleTimer = null;
        var staleShown = false;

        // ---- The status line under the bar: what the reading on screen is worth (statusLine).
        var OUT_OF_DATE = "Out of date: this estimate is for your earlier text.";
        var WHEN_BACK = "A new estimate comes once the connection is back.";
        var NO_ESTIMATE = "no estimate";  // the bar's value for screen readers while it shows none
        var NO_LETTERS = "no_letters";  // components.NO_LETTERS: a text without a letter, not sent to the API
        var shownStatus = "";  // the status of the result on screen ("Sounds positive.", "Keep typing: …")
        var shownEstimate = false;  // whether the bar shows an estimate (not a reason, not nothing)
        var scoringError = null;  // why the latest text was not scored, until a result comes

        function setProps(id, props) {  // only on the review page (its stores have no element of their own)
            if (document.getElementById("review-form")) {
                window.dash_clientside.set_props(id, props);
            }
        }

        function readDraft() {
            try {
                var draft = JSON.parse(window.localStorage.getItem(DRAFT_KEY));
                return draft && typeof draft.text === "string" && draft.text ? draft : null;
            } catch (error) {
                return null;  // storage disabled or unreadable: no draft
            }
        }

        function keepDraft(text, brand) {
            try {
                if (text.trim()) {
                    window.localStorage.setItem(DRAFT_KEY, JSON.stringify({text: text, brand: brand || null}));
                } else {
                    window.localStorage.removeItem(DRAFT_KEY);  // emptied, or submitted
                }
            } catch (error) {
                // storage disabled or full: the text stays in the box only
            }
        }

        // The bar is stale when the text moved on and no newer score came for STALE_MS (not while
        // scores keep arriving as the visitor types): the CSS class greys it.
        function checkStale() {
            if (staleTimer !== null) {
                clearTimeout(staleTimer);
                staleTimer = null;
            }
            var stale = false;
            if (scoredText !== null && currentText !== scoredText) {
                var left = behindSince + STALE_MS - Date.now();
                if (left > 0) {
                    staleTimer = setTimeout(checkStale, left);
                } else {
                    stale = true;
                }
            }
            if (stale !== staleShown) {
                staleShown = stale;
                setProps("score-area", {className: stale ? "score-area stale" : "score-area"});
                showStatus();
            }
        }

        // The status line: the result's own while the bar is up to date; once it is stale, that the
        // estimate is out of date, and why no newer one came (the connection, or the error).
        function statusLine() {
            if (!staleShown) {
                return scoringError || shownStatus;
            }
            var why = offline ? WHEN_BACK : scoringError;
            return [shownEstimate ? OUT_OF_DATE : "", why || ""].join(" ").trim() || shownStatus;
        }

        function showStatus() {
            setProps("score-status", {children: statusLine()});
        }

        function focusReviewText() {
            var box = document.getElementById("review-text");
            if (box) {
                box.focus();
            }
        }

        // A message about the lost connection (a danger alert: "not saved", "could not be loaded")
        // is no longer true once it is back.
        function dropConnectionMessage() {
            if (document.querySelector("#review-alert.alert-danger")) {
                setProps("review-alert", {is_open: false});
            }
        }

        function textChanged(text) {
            if (text !== currentText && currentText === scoredText) {
                behindSince = Date.now();  // the bar was up to date until now
            }
            currentText = text;
            checkStale();
        }

        function scoreArrived(text) {
            scoredText = text;
            behindSince = Date.now();
            checkStale();
        }

        function codePoints(text) {  // as the API counts characters (a surrogate pair is one)
            return text.length - (text.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g) || []).length;
        }

        function number(value) {
            return Number(value).toLocaleString("en-US");
        }

        // The API's length limits (`review-limits`): none known yet reads as no limit.
        function bounds(limits) {
            return {min: Number(limits && limits.min) || 0, max: Number(limits && limits.max) || Infinity};
        }

        // The line under the box: length against the API's limits, and what is missing or too much.
        function counter(text, limits) {
            var range = bounds(limits);
            var min = range.min;
            var max = range.max;
            var length = codePoints(text);
            var kept = codePoints(text.trim());
            if (length > max) {
                return [number(length) + " characters: " + number(length - max) + " over the limit of " +
                        number(max) + ". Shorten your review to submit it.",
                        "form-text mt-0 mb-3 review-counter over text-danger fw-semibold"];
            }
            var limit = max === Infinity ? "" : " / " + number(max);
            if (!length) {
                return ["At least " + number(min) + " characters" + (max === Infinity ? "." : ", at most " +
                        number(max) + "."), "form-text mt-0 mb-3 review-counter short"];
            }
            if (kept < min) {
                return [number(length) + limit + " characters — " + number(min - kept) + " more needed (at least " +
                        number(min) + ").", "form-text mt-0 mb-3 review-counter short"];
            }
            return [number(length) + limit + " characters", "form-text mt-0 mb-3 review-counter"];
        }

        function showConnection(text) {
            setProps("connection-alert", {hidden: text === null, children: text || ""});
        }

        // An API call got no answer, or the web server did not answer a callback: say so, keep
        // everything, and ask again after RETRY_FIRST_S, then twice as long each time, up to RETRY_MAX_S.
        function connectionLost() {
            if (!document.getElementById("review-form")) {
                return;  // not on the review page
            }
            if (!offline) {
                offline = true;
                retryDelay = RETRY_FIRST_S;
                showStatus();  // a stale estimate waits for the connection now
            }
            checkStale();
            if (retryTimer !== null) {
                return;  // a retry is already planned
            }
            var delay = retryDelay;
            retryDelay = Math.min(retryDelay * 2, RETRY_MAX_S);
            showConnection("Connection lost — your text is kept. Trying again in " + delay + " s…");
            retryTimer = setTimeout(function () {
                retryTimer = null;
                probes += 1;
                showConnection("Connection lost — your text is kept. Trying again now…");
                setProps("connection-probe", {data: {n: probes}});
            }, delay * 1000);
        }

        function connectionBack() {
            if (retryTimer !== null) {
                clearTimeout(retryTimer);
                retryTimer = null;
            }
            if (!offline) {
                return;
            }
            offline = false;
            retryDelay = RETRY_FIRST_S;
            showConnection(null);
            dropConnectionMessage();
            scoringError = null;
            showStatus();
            if (sessionGroup !== CONTROL && currentText !== scoredText) {
                rescore();
            }
        }

        // After an outage: score the text on screen again, even if it was sent before (its answer was lost).
        function rescore() {
            var box = document.getElementById("review-text");
            if (box && timer === null) {
                lastText = null;
                send(box.value);
            }
        }

        // A callback the web server did not answer (it is down, or failed): Dash leaves its `running`
        // state as it was, so a failed submit re-enables the form here and says it was not saved.
        function callbackFailed(body) {
            var outputs = "";
            try {
                outputs = String(JSON.parse(body).output || "");
            } catch (error) {
                outputs = "";
            }
            if (outputs.indexOf("submit-attempt.data") !== -1) {
                setProps("review-actions", {disabled: false});
                setProps("review-alert", {
                    children: "Your review was not saved, and your text is still here. " +
                              "The web page's server cannot be reached right now.",
                    color: "danger",
                    is_open: true
                });
                focusReviewText();
            }
            connectionLost();
        }

        // dbc.Alert always says role="alert", which is assertive: after a submit it would cut off the
        // reading of the review box, where the focus goes. The review page's messages sit in a polite
        // live region (#review-message, role="status"), so an alert there drops its own role as it
        // appears (before the browser tells a screen reader about it).
        function politeMessages() {
            var loud = document.querySelectorAll("#review-message [role=alert]");
            for (var i = 0; i < loud.length; i += 1) {
                loud[i].removeAttribute("role");
            }
        }

        if (window.MutationObserver && !window.brandpulsePoliteMessages) {
            window.brandpulsePoliteMessages = new MutationObserver(politeMessages);
            window.brandpulsePoliteMessages.observe(document.documentElement, {childList: true, subtree: true});
        }

        if (window.fetch && !window.fetch.brandpulseWatch) {
            var plainFetch = window.fetch;
            var watchedFetch = function (resource, init) {
                var url = typeof resource === "string" ? resource : String((resource && resource.url) || "");
                var answer = plainFetch.apply(window, arguments);
                if (url.indexOf("_dash-update-component") === -1) {
                    return answer;
                }
                var body = init && typeof init.body === "string" ? init.body : "";
                return answer.then(function (response) {
                    if (response.status >= 500) {
                        callbackFailed(body);
                    }
                    return response;
                }, function (error) {
                    callbackFailed(body);
                    throw error;
                });
            };
            watchedFetch.brandpulseWatch = true;
            window.fetch = watchedFetch;
        }

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

        // Add the tokens earned since the last refill, up to BURST.
        function refill() {
            var now = Date.now();
            tokens = Math.min(BURST, tokens + (now - refilled) / INTERVAL_MS);
            refilled = now;
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
                refill();
                tokens -= 1;  // below 0 after a rescore: the next sends wait for it
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
                sessionGroup = drawn;
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
                    refill();
                    if (tokens >= 1 || (tokens >= 1 - MAX_DEBT && SENTENCE_END.test(text))) {
                        send(text);  // the leading edge, or a finished sentence: no wait
                    } else {  // held: the next key replaces it; a pause, or the next token, sends it
                        var wait = Math.max(HOLD_MS, Math.ceil((1 - tokens) * INTERVAL_MS));
                        timer = setTimeout(send, wait, text);
                    }
                }
                return window.dash_clientside.no_update;
            },

            // A scoring result: shown (as `score-shown`, which drawScoreBar draws) unless a newer one is.
            applyScore: function (result, shown, touched, share) {
                var skip = window.dash_clientside.no_update;
                if (!result || (shown && result.seq <= shown.seq)) {
                    return [skip, skip, skip, skip];  // stale: newer text is on screen
                }
                if (result.unavailable) {  // not scored: the bar keeps its reading (greyed once stale)
                    scoringError = result.status;
                    if (result.trouble) {
                        connectionLost();
                    }
                    return [statusLine(), skip, skip, skip];
                }
                if (result.text.trim() && result.reason !== NO_LETTERS) {
                    connectionBack();  // an answer from the API (an empty text, or one of symbols, asks none)
                }
                shownStatus = result.status || "";
                shownEstimate = Boolean(result.label);
                scoringError = null;
                scoreArrived(result.text);
                var length = String(result.text.length);
                if (group(share) === CONTROL) {  // never reached (no scoring), and never revealing
                    visibleSuggestion = null;
                    return ["", length, skip, skip];
                }
                visibleSuggestion = result.suggested === undefined ? null : result.suggested;
                var rating = touched ? skip : result.suggested;
                return [statusLine(), length, result, rating];
            },

            // The bar: its width and label, its colour, and its value for screen readers.
            drawScoreBar: function (shown) {
                var view = shown || {};
                var percent = Number(view.percent) || 0;
                var label = view.label || "";
                return [{width: percent + "%"}, label, "progress-bar bg-" + (view.color || "secondary"),
                        label ? percent : null, label || NO_ESTIMATE];
            },

            // After a submit, saved or not: the keyboard is back in the review box (the form's
            // buttons were disabled meanwhile, which took the focus away from Submit).
            focusReviewText: function () {
                focusReviewText();
            },

            // A value of the brand picker that is not the brand on screen is the visitor's pick.
            pickedBrand: function (value, brand) {
                if (!value || (brand && brand.name === value)) {
                    return window.dash_clientside.no_update;  // the picker following the brand
                }
                return value;
            },

            // The brand picker shows the brand on screen, so the arrow keys move on from it; not while
            // the visitor is in the picker, choosing (their pick is the brand on its way).
            followBrand: function (brand) {
                var picker = document.getElementById("brand-picker");
                if (brand && brand.name && picker && document.activeElement !== picker &&
                        picker.value !== brand.name) {
                    setProps("brand-picker", {value: brand.name});
                }
            },

            // Submit is enabled once there is a brand, a text within the limits and a rating (a
            // control session, or a text the model cannot read, starts with no star chosen).
            submitDisabled: function (text, brand, rating, limits) {
                var value = typeof text === "string" ? text : "";
                var range = bounds(limits);
                var min = Math.max(1, range.min);  // an empty text never fits
                var max = range.max;
                var rated = rating !== null && rating !== undefined && rating !== "";
                return !brand || !rated || codePoints(value.trim()) < min || codePoints(value) > max;
            },

            // On load: the draft kept in localStorage comes back into the box, and its brand is the
            // one to load unless the address names one (`?brand=`).
            restoreDraft: function (query) {
                var draft = readDraft();
                var wanted = null;
                if (query) {
                    wanted = {name: query, from: "query"};
                } else if (draft && draft.brand) {
                    wanted = {name: draft.brand, from: "draft"};
                }
                return [draft ? draft.text : window.dash_clientside.no_update, wanted];
            },

            // Each change of the text or the brand: keep the draft, update the counter and the stale
            // bar; once the visitor writes again, the last review's "saved" message goes.
            trackText: function (value, brand, limits, alertColor, alertOpen) {
                var text = typeof value === "string" ? value : "";
                var box = document.getElementById("review-text");
                if (box && !box.hasAttribute("aria-describedby")) {
                    box.setAttribute("aria-describedby", "review-counter");  // dbc.Textarea cannot take it
                }
                textChanged(text);
                keepDraft(text, brand && brand.name);
                var view = counter(text, limits);
                var close = alertOpen && alertColor === "success" && text.trim();
                return [view[0], view[1], close ? false : window.dash_clientside.no_update];
            },

            noteTrouble: function (trouble) {
                if (trouble) {
                    connectionLost();
                }
                return window.dash_clientside.no_update;  // connectionLost shows the alert itself
            },

            connectionState: function (state) {
                if (state && state.ok) {
                    connectionBack();
                } else if (state) {
                    connectionLost();
                }
                return window.dash_clientside.no_update;
            }
        };
    })()
});
