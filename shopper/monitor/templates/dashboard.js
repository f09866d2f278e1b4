// Draws one uPlot chart per check from the JSON in #dashboard-data. Text from the data
// (check names, failure messages) only ever reaches the page through textContent.
(function () {
  "use strict";
  var OUTCOMES = ["passed", "failed", "error"];
  var COLOURS = {passed: "#16a34a", failed: "#dc2626", error: "#ea580c"};
  var TTH = "#2563eb";
  var HOLD = "#a16207";
  var ALERT = "rgba(248, 113, 113, 0.22)";
  var ALERT_EDGE = "rgba(220, 38, 38, 0.55)";
  var HEIGHT = 240;
  var LANE = 0.045; // where the outcome marks sit on their own 0..1 scale: under the zero line
  var BELOW_ZERO = 0.13; // room left under 0 s for that lane, as a share of the top value

  // Time-axis labels on a 24-hour clock, with the day under the first tick of each day (and
  // under the first tick of the axis unless a new day starts right after it: no overlap).
  var dayLabel = uPlot.fmtDate("{WWW} {D} {MMM}");
  var clock = uPlot.fmtDate("{HH}:{mm}");
  var clockSeconds = uPlot.fmtDate("{HH}:{mm}:{ss}");
  function timeTicks(u, splits, axisIdx, space, step) {
    var dates = splits.map(function (v) { return uPlot.tzDate(new Date(v * 1000), zone); });
    var day = function (i) { return dates[i] && dates[i].toDateString(); };
    return dates.map(function (date, i) {
      if (step >= 86400) return dayLabel(date);
      var text = (step < 60 ? clockSeconds : clock)(date);
      var first = i === 0 ? day(1) === day(0) : day(i) !== day(i - 1);
      return first ? text + "\n" + dayLabel(date) : text;
    });
  }

  function showError(error) {
    var box = document.getElementById("dashboard-error");
    box.hidden = false;
    box.textContent = "The charts could not be drawn: " + (error && error.message || error);
  }
  window.addEventListener("error", function (event) { showError(event.error || event.message); });

  var data = JSON.parse(document.getElementById("dashboard-data").textContent);
  var zone = data.timezone;
  var whenFormat = new Intl.DateTimeFormat(undefined, {
    timeZone: zone, weekday: "short", day: "numeric", month: "short",
    hour: "2-digit", minute: "2-digit", hour12: false
  });

  function duration(seconds) {
    if (seconds == null) return "—";
    if (seconds < 120) return seconds.toFixed(1) + " s";
    var minutes = Math.floor(seconds / 60);
    var rest = Math.round(seconds - minutes * 60);
    return minutes + " min " + (rest < 10 ? "0" : "") + rest + " s";
  }

  function tick(seconds) {
    if (seconds < 120) return seconds + " s";
    var minutes = seconds / 60;
    return (Number.isInteger(minutes) ? minutes : minutes.toFixed(1)) + " min";
  }

  function lane(outcomes, code) {
    return outcomes.map(function (value) { return value === code ? LANE : null; });
  }

  function span() {
    var first = Infinity, last = -Infinity;
    data.checks.forEach(function (check) {
      if (check.t.length) {
        first = Math.min(first, check.t[0]);
        last = Math.max(last, check.t[check.t.length - 1]);
      }
    });
    last = Math.max(last, data.now);
    if (!(first < last)) first = last - 3600;
    // a little room before the oldest run, so its mark is not cut in half by the axis
    return {first: first - Math.max((last - first) * 0.005, 60), last: last};
  }
  var whole = span();

  function shadeAlerts(check) {
    return function (u) {
      var ctx = u.ctx, box = u.bbox;
      ctx.save();
      check.alerts.forEach(function (period) {
        var x0 = Math.max(u.valToPos(period[0], "x", true), box.left);
        var x1 = Math.min(u.valToPos(period[1], "x", true), box.left + box.width);
        if (x1 < box.left || x0 > box.left + box.width) return;
        var width = Math.max(x1 - x0, 4 * devicePixelRatio);
        ctx.fillStyle = ALERT;
        ctx.fillRect(x0, box.top, width, box.height);
        ctx.fillStyle = ALERT_EDGE;
        ctx.fillRect(x0, box.top, width, 3 * devicePixelRatio);
      });
      ctx.restore();
    };
  }

  // Lines break where the schedule paused (nights, weekends, a stopped monitor): wherever two
  // runs are further apart than three times the check's usual interval.
  function breaks(times) {
    var steps = [];
    for (var i = 1; i < times.length; i++) steps.push(times[i] - times[i - 1]);
    steps.sort(function (a, b) { return a - b; });
    var limit = steps.length ? 3 * steps[Math.floor(steps.length / 2)] : Infinity;
    return function (u, seriesIdx, idx0, idx1, nullGaps) {
      var found = nullGaps.slice();
      for (var i = idx0 + 1; i <= idx1; i++) {
        if (times[i] - times[i - 1] > limit) {
          uPlot.addGap(found, Math.round(u.valToPos(times[i - 1], "x", true)) + 1,
            Math.round(u.valToPos(times[i], "x", true)));
        }
      }
      return found.sort(function (a, b) { return a[0] - b[0]; });
    };
  }

  // One mark per run in a lane under the zero line, coloured by outcome: as wide as the room
  // to its neighbours allows (a solid bar over weeks, separate ticks over hours); failures and
  // errors painted last so one bad run among many still shows.
  function drawMarks(check) {
    return function (u) {
      var ctx = u.ctx, box = u.bbox, ratio = devicePixelRatio;
      var y = u.valToPos(LANE, "o", true);
      var height = 10 * ratio;
      ctx.save();
      ctx.beginPath();
      ctx.rect(box.left, box.top, box.width, box.height);
      ctx.clip();
      [0, 2, 1].forEach(function (code) {
        ctx.fillStyle = COLOURS[OUTCOMES[code]];
        for (var i = 0; i < check.t.length; i++) {
          if (check.outcome[i] !== code) continue;
          var x = u.valToPos(check.t[i], "x", true);
          var next = i + 1 < check.t.length ? u.valToPos(check.t[i + 1], "x", true) : x + 8 * ratio;
          var previous = i > 0 ? u.valToPos(check.t[i - 1], "x", true) : x - 8 * ratio;
          var room = Math.min(next - x, x - previous);
          var width = Math.max(Math.min(room * 0.7, 8 * ratio), 1.5 * ratio);
          ctx.fillRect(x - width / 2, y - height / 2, width, height);
        }
      });
      ctx.restore();
    };
  }

  // The run under the pointer: the nearest one, unless the nearest is far off (the pointer
  // in a night's gap means no run, not the next morning's first).
  var REACH = 24; // CSS pixels
  function runAt(u, check) {
    var index = u.cursor.idx;
    if (index == null || u.cursor.left < 0) return null;
    return Math.abs(u.valToPos(check.t[index], "x") - u.cursor.left) <= REACH ? index : null;
  }

  function tooltip(check, tip) {
    return function (u) {
      var index = runAt(u, check);
      if (index == null) { tip.hidden = true; return; }
      var outcome = OUTCOMES[check.outcome[index]];
      tip.textContent = "";
      var head = document.createElement("div");
      var when = document.createElement("b");
      when.textContent = whenFormat.format(new Date(check.t[index] * 1000)) + "  ";
      var result = document.createElement("span");
      result.className = "o-" + outcome;
      result.textContent = outcome;
      head.append(when, result);
      var figures = document.createElement("div");
      figures.textContent = "time to human " + duration(check.tth[index]) +
        " · hold " + duration(check.hold[index]);
      tip.append(head, figures);
      if (check.message[index]) {
        var message = document.createElement("div");
        message.className = "msg";
        message.textContent = check.message[index];
        tip.append(message);
      }
      var open = document.createElement("div");
      open.className = "open";
      open.textContent = check.href[index] ? "click to open the call's report" : "no evidence kept";
      tip.append(open);
      tip.hidden = false;
      var left = u.valToPos(check.t[index], "x") + 12;
      if (left + tip.offsetWidth > u.over.clientWidth) left -= tip.offsetWidth + 24;
      tip.style.left = Math.max(left, 0) + "px";
      tip.style.top = (u.cursor.top + 14) + "px";
    };
  }

  // uPlot swallows the click that ends a drag (a zoom), so a click here is a click on a run.
  function openOnClick(u, check) {
    u.over.addEventListener("click", function () {
      var index = runAt(u, check);
      if (index != null && check.href[index]) window.location.href = check.href[index];
    });
  }

  function chart(element, check) {
    var mark = function (label, colour) {
      // drawn by drawMarks (their width follows the zoom); the series gives the hover point
      return {label: label, scale: "o", paths: function () { return null; },
        points: {show: false, fill: colour, stroke: colour}};
    };
    var gaps = breaks(check.t);
    var options = {
      width: element.clientWidth,
      height: HEIGHT,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), zone); },
      legend: {show: false},
      cursor: {y: false, drag: {x: true, y: false}, points: {size: 8}},
      scales: {
        x: {time: true},
        s: {range: function (u, min, max) {
          var top = Math.max((max || 0) * 1.08, 30);
          return [-top * BELOW_ZERO, top];
        }},
        o: {range: [0, 1]}
      },
      axes: [
        {stroke: "#374151", grid: {stroke: "#e5e7eb"}, ticks: {stroke: "#d1d5db"},
          values: timeTicks, size: 46},
        {
          scale: "s", stroke: "#374151", size: 64, label: "time to human, hold",
          labelSize: 18, labelFont: "12px system-ui, sans-serif",
          incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600],
          filter: function (u, splits) {
            return splits.map(function (v) { return v < 0 ? null : v; });
          },
          values: function (u, splits) {
            return splits.map(function (v) { return v == null || v < 0 ? "" : tick(v); });
          },
          grid: {stroke: "#e5e7eb"}, ticks: {stroke: "#d1d5db"}
        }
      ],
      series: [
        {},
        {label: "time to human", scale: "s", stroke: TTH, width: 1.6, gaps: gaps,
          points: {size: 6, fill: TTH}},
        {label: "hold", scale: "s", stroke: HOLD, width: 1.2, dash: [6, 4], gaps: gaps,
          points: {size: 5, fill: HOLD}},
        mark("passed", COLOURS.passed),
        mark("failed", COLOURS.failed),
        mark("error", COLOURS.error)
      ],
      hooks: {drawClear: [shadeAlerts(check)], draw: [drawMarks(check)]}
    };
    var columns = [check.t, check.tth, check.hold,
      lane(check.outcome, 0), lane(check.outcome, 1), lane(check.outcome, 2)];
    var plot = new uPlot(options, columns, element);
    var tip = document.createElement("div");
    tip.className = "tip";
    tip.hidden = true;
    plot.over.append(tip);
    plot.hooks.setCursor = [tooltip(check, tip)];
    plot.over.addEventListener("mouseleave", function () { tip.hidden = true; });
    openOnClick(plot, check);
    return plot;
  }

  var plots = [];
  try {
    document.querySelectorAll(".chart[data-check]").forEach(function (element) {
      var check = data.checks[Number(element.dataset.check)];
      plots.push(chart(element, check));
    });
    var show = function (hours) {
      var min = hours ? whole.last - hours * 3600 : whole.first;
      plots.forEach(function (plot) { plot.setScale("x", {min: min, max: whole.last}); });
    };
    var week = 7 * 24;
    var initial = whole.last - whole.first > week * 3600 ? week : 0;
    document.querySelectorAll(".range button").forEach(function (button) {
      button.classList.toggle("active", Number(button.dataset.hours) === initial);
    });
    show(initial);
    document.querySelectorAll(".range button").forEach(function (button) {
      button.addEventListener("click", function () {
        document.querySelectorAll(".range button").forEach(function (other) {
          other.classList.toggle("active", other === button);
        });
        show(Number(button.dataset.hours));
      });
    });
    window.addEventListener("resize", function () {
      plots.forEach(function (plot) {
        plot.setSize({width: plot.root.parentNode.clientWidth, height: HEIGHT});
      });
    });
    document.body.dataset.charts = String(plots.length);
  } catch (error) {
    showError(error);
  }
})();
