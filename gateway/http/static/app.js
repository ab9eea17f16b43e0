// The status page's script: refreshes the server-rendered tables from /api/status every
// second while the tab is visible, pages and filters the tags, charts one tag's last hour,
// logs in and out, and acknowledges, shelves and unshelves alarms. No framework, no
// external resource.
"use strict";

(() => {
  const REFRESH_MS = 1000;
  const CHART_REFRESH_MS = 15000;
  const FILTER_DELAY_MS = 250;
  const meta = (name) => document.querySelector(`meta[name="${name}"]`).content;
  const $ = (selector) => document.querySelector(selector);

  const state = {
    csrf: meta("csrf-token"),
    canWrite: meta("can-write") === "true",
    filter: "",
    tagPage: 1,
    devicePage: 1,
    chartTag: null,
    timer: null,
    chartTimer: null,
    asked: 0, // refreshes started: an answer to an older one is dropped
    chartData: null, // the chart's last answer, redrawn when the window changes size
  };

  // -- formatting (as gateway/http/page.py does) ------------------------------------------

  function formatValue(value) {
    if (value === null || value === undefined) return "–";
    if (typeof value === "boolean") return value ? "true" : "false";
    if (typeof value === "number" && !Number.isInteger(value)) {
      return String(Number(value.toPrecision(6)));
    }
    return String(value);
  }

  function formatTime(seconds) {
    if (seconds === null || seconds === undefined) return "";
    return new Date(seconds * 1000).toLocaleTimeString();
  }

  function cell(text, className) {
    const td = document.createElement("td");
    if (className) td.className = className;
    td.textContent = text;
    return td;
  }

  function showMessage(text) {
    const box = $("#message");
    box.textContent = text;
    box.hidden = !text;
  }

  // -- requests -----------------------------------------------------------------------------

  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": state.csrf },
      body: JSON.stringify(body),
    });
    let data = {};
    try {
      data = await response.json();
    } catch (ignored) {
      data = { error: `${response.status} ${response.statusText}` };
    }
    return { ok: response.ok, status: response.status, data };
  }

  // -- the tables -----------------------------------------------------------------------------

  function stateText(alarm) {
    let text = alarm.state.replaceAll("_", " ");
    if (alarm.enabled === false) text += ", disabled";
    return text;
  }

  // Shelved or disabled, as page.py's silence_text says it (also on a phone, where the
  // state column is hidden).
  function silenceText(alarm) {
    if (alarm.enabled === false) return "disabled";
    if (alarm.shelving === "timed") return `shelved until ${formatTime(alarm.shelved_until)}`;
    if (alarm.shelving === "oneshot") return "shelved until it clears";
    return "";
  }

  function actionButton(className, alarm, text) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = className;
    button.dataset.alarm = alarm.name;
    button.textContent = text;
    return button;
  }

  function nameCell(alarm) {
    const td = cell(alarm.name, "name");
    const silence = silenceText(alarm);
    if (silence) {
      const badge = document.createElement("span");
      badge.className = "badge silenced";
      badge.textContent = silence;
      td.append(" ", badge);
    }
    return td;
  }

  function renderAlarms(alarms) {
    const body = $("#alarms tbody");
    body.replaceChildren(
      ...alarms.rows.map((alarm) => {
        const row = document.createElement("tr");
        row.dataset.alarm = alarm.name;
        row.className = alarm.state + (silenceText(alarm) ? " silenced" : "");
        const action = cell("", "action");
        if (state.canWrite && !alarm.acked) {
          action.append(actionButton("ack", alarm, "Acknowledge"));
        }
        if (state.canWrite && alarm.enabled !== false) {
          action.append(
            alarm.shelving === "unshelved"
              ? actionButton("shelve", alarm, "Shelve")
              : actionButton("unshelve", alarm, "Unshelve"),
          );
        }
        row.append(
          cell(String(alarm.severity), "severity"),
          nameCell(alarm),
          cell(stateText(alarm), "state"),
          cell(alarm.message, "message"),
          cell(formatTime(alarm.time), "time"),
          action,
        );
        return row;
      }),
    );
    $("#alarm-count").textContent = `${alarms.total} of ${alarms.configured} not normal`;
    $("#alarms-empty").hidden = alarms.rows.length > 0;
  }

  function renderDevices(devices) {
    $("#devices tbody").replaceChildren(
      ...devices.rows.map((device) => {
        const row = document.createElement("tr");
        row.dataset.device = device.name;
        row.className = device.state;
        const stateCell = cell("", "state");
        const badge = document.createElement("span");
        badge.className = `badge ${device.state}`;
        badge.textContent = device.state;
        stateCell.append(badge);
        row.append(
          cell(device.name, "name"),
          stateCell,
          cell(String(device.requests), "num"),
          cell(String(device.errors), "num"),
          cell(String(device.timeouts), "num wide"),
          cell(String(device.missed_scans), "num wide"),
          cell(String(device.response_ms), "num"),
          cell(device.last_error, "error wide"),
        );
        return row;
      }),
    );
    $("#device-summary").textContent = Object.entries(devices.states)
      .filter(([, count]) => count > 0)
      .map(([name, count]) => `${count} ${name}`)
      .join(", ");
    renderPager("#device-pager", devices, "devices");
  }

  // The MQTT publisher's line under the devices (with `mqtt:`), as page.py's mqtt_detail.
  function renderMqtt(mqtt) {
    const block = $("#mqtt");
    if (!block || !mqtt) return;
    const badge = block.querySelector(".badge");
    badge.className = `badge ${mqtt.state}`;
    badge.textContent = mqtt.state.replaceAll("_", " ");
    block.querySelector(".server").textContent = mqtt.server;
    const count = (number, noun) => `${number} ${noun}${number === 1 ? "" : "s"}`;
    let words = `${count(mqtt.messages, "message")} · ${count(mqtt.connects, "connection")} · `;
    if (mqtt.replay_active) {
      words += `replaying stored data (${mqtt.replay_sent} values sent)`;
    } else if (mqtt.backlog_windows) {
      const minutes = (mqtt.backlog_seconds / 60).toFixed(1);
      words += `replay pending: ${mqtt.backlog_windows} outage(s), ${minutes} min`;
    } else {
      words += "nothing to replay";
    }
    if (mqtt.last_error && !mqtt.connected) words += ` · last error: ${mqtt.last_error}`;
    block.querySelector(".detail").textContent = words;
  }

  function renderTags(tags) {
    $("#tags tbody").replaceChildren(
      ...tags.rows.map((tag) => {
        const row = document.createElement("tr");
        row.dataset.tag = tag.key;
        row.className = tag.quality + (tag.key === state.chartTag ? " selected" : "");
        row.tabIndex = 0;
        row.append(
          cell(tag.key, "key"),
          cell(formatValue(tag.value), "value"),
          cell(tag.unit, "unit"),
          cell(tag.status, "status"),
          cell(formatTime(tag.time), "time"),
        );
        return row;
      }),
    );
    const noun = tags.filter ? `tags matching “${tags.filter}” of ${tags.all}` : "tags";
    renderPager("#tag-pager", tags, noun);
  }

  function renderPager(selector, page, noun) {
    const pager = $(selector);
    pager.querySelector(".info").textContent =
      `page ${page.page} of ${page.pages} · ${page.total} ${noun}`;
    pager.querySelector(".prev").disabled = page.page <= 1;
    pager.querySelector(".next").disabled = page.page >= page.pages;
  }

  function render(data) {
    const ready = $("#ready");
    ready.textContent = data.ready ? "ready" : "not ready";
    ready.className = `badge ${data.ready ? "ok" : "bad"}`;
    state.canWrite = Boolean(data.user && data.user.can_write);
    renderAlarms(data.alarms);
    renderDevices(data.devices);
    renderMqtt(data.mqtt);
    renderTags(data.tags);
    state.tagPage = data.tags.page;
    state.devicePage = data.devices.page;
    $("#updated").textContent = `updated ${formatTime(data.time)}`;
  }

  async function refresh() {
    clearTimeout(state.timer);
    const asked = ++state.asked;
    const query = new URLSearchParams({
      filter: state.filter,
      page: String(state.tagPage),
      devices: String(state.devicePage),
    });
    try {
      const response = await fetch(`/api/status?${query}`, { credentials: "same-origin" });
      if (response.status === 401) {
        window.location.reload();
        return;
      }
      if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
      const data = await response.json();
      if (asked !== state.asked) return; // a newer refresh (a page or filter change) is on its way
      render(data);
      if ($("#message").dataset.kind === "refresh") showMessage("");
    } catch (failure) {
      showMessage(`The gateway does not answer (${failure.message}); retrying.`);
      $("#message").dataset.kind = "refresh";
    } finally {
      if (asked === state.asked && !document.hidden) {
        state.timer = setTimeout(refresh, REFRESH_MS);
      }
    }
  }

  // -- the chart ------------------------------------------------------------------------------

  const SVG = "http://www.w3.org/2000/svg";

  function svgElement(name, attributes, text) {
    const element = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
    if (text !== undefined) element.textContent = text;
    return element;
  }

  function drawChart(data) {
    state.chartData = data;
    const box = $("#chart");
    // Drawn at the box's own size, so text and lines keep their size on any screen.
    const width = Math.max(box.clientWidth, 200);
    const height = Math.max(box.clientHeight, 120);
    const left = 64;
    const right = 12;
    const top = 10;
    const bottom = 24;
    const svg = svgElement("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart" });
    const points = data.points;
    const values = points.map((point) => point[1]);
    let low = Math.min(...values);
    let high = Math.max(...values);
    if (!points.length) {
      low = 0;
      high = 1;
    } else if (low === high) {
      low -= 1;
      high += 1;
    }
    // A gateway that started minutes ago has minutes of history: show those, not an
    // hour with a line squeezed into its last pixels.
    let from = points.length ? Math.max(data.start, points[0][0]) : data.start;
    if (data.end - from < 60) from = data.end - 60;
    const x = (t) => left + ((t - from) / (data.end - from)) * (width - left - right);
    const y = (v) => top + (1 - (v - low) / (high - low)) * (height - top - bottom);
    svg.append(
      svgElement("line", { x1: left, y1: top, x2: left, y2: height - bottom, class: "axis" }),
      svgElement("line", {
        x1: left,
        y1: height - bottom,
        x2: width - right,
        y2: height - bottom,
        class: "axis",
      }),
      svgElement("text", { x: left - 6, y: top + 10, class: "label end" }, formatValue(high)),
      svgElement("text", { x: left - 6, y: height - bottom, class: "label end" }, formatValue(low)),
      svgElement("text", { x: left, y: height - 6, class: "label" }, formatTime(from)),
      svgElement("text", { x: width - right, y: height - 6, class: "label end" }, "now"),
    );
    if (points.length) {
      // A stored value holds until the next one (the historian stores changes): steps,
      // and the last value carried on to now.
      const corners = [];
      points.forEach(([t, v], index) => {
        if (index > 0) corners.push([t, points[index - 1][1]]);
        corners.push([t, v]);
      });
      corners.push([data.end, points[points.length - 1][1]]);
      const line = corners.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
      svg.append(svgElement("polyline", { points: line, class: "line" }));
    }
    box.replaceChildren(svg);
    const unit = data.unit ? ` (${data.unit})` : "";
    let note = `${data.readings} reading${data.readings === 1 ? "" : "s"} in the last hour${unit}`;
    if (data.truncated) note += "; only the newest were read";
    if (!points.length) note = "No numeric readings stored in the last hour.";
    $("#chart-note").textContent = note;
  }

  async function loadChart() {
    clearTimeout(state.chartTimer);
    if (!state.chartTag) return;
    $("#chart-title").textContent = `Last hour: ${state.chartTag}`;
    try {
      const query = new URLSearchParams({ tag: state.chartTag });
      const response = await fetch(`/api/history?${query}`, { credentials: "same-origin" });
      const data = await response.json();
      if (!response.ok) throw new Error(data.error || response.statusText);
      drawChart(data);
    } catch (failure) {
      $("#chart-note").textContent = `The history cannot be shown: ${failure.message}`;
    } finally {
      if (!document.hidden) state.chartTimer = setTimeout(loadChart, CHART_REFRESH_MS);
    }
  }

  function selectTag(key) {
    state.chartTag = key;
    for (const row of document.querySelectorAll("#tags tbody tr")) {
      row.classList.toggle("selected", row.dataset.tag === key);
    }
    loadChart();
  }

  // -- account and actions ----------------------------------------------------------------------

  async function login(event) {
    event.preventDefault();
    const result = await post("/login", {
      user: $("#login-user").value,
      password: $("#login-password").value,
    });
    if (result.ok) {
      window.location.reload();
    } else {
      showMessage(`Login failed: ${result.data.error}`);
      $("#message").dataset.kind = "login";
    }
  }

  async function logout() {
    await post("/logout", {});
    window.location.reload();
  }

  async function acknowledge(button) {
    button.disabled = true;
    const result = await post("/api/alarms/acknowledge", { alarm: button.dataset.alarm });
    if (!result.ok) {
      showMessage(`Acknowledge refused: ${result.data.error}`);
      $("#message").dataset.kind = "action";
      button.disabled = false;
      return;
    }
    showMessage("");
    refresh();
  }

  // Shelve and Unshelve ask for a reason (and Shelve for how long) in one dialog, outside
  // the table, which the refresh redraws every second.
  function openShelving(button) {
    const dialog = $("#shelve-dialog");
    const shelving = button.classList.contains("shelve");
    dialog.dataset.alarm = button.dataset.alarm;
    dialog.dataset.action = shelving ? "shelve" : "unshelve";
    $("#shelve-title").textContent = `${shelving ? "Shelve" : "Unshelve"} ${button.dataset.alarm}`;
    $("#shelve-duration-row").hidden = !shelving;
    $("#shelve-confirm").textContent = shelving ? "Shelve" : "Unshelve";
    $("#shelve-reason").value = "";
    dialog.showModal();
  }

  async function shelving(event) {
    const dialog = $("#shelve-dialog");
    if (event.submitter && event.submitter.value !== "confirm") return; // Cancel closes it
    event.preventDefault();
    const action = dialog.dataset.action;
    const body = { alarm: dialog.dataset.alarm, reason: $("#shelve-reason").value };
    if (action === "shelve") {
      const seconds = $("#shelve-duration").value;
      body.duration = seconds ? Number(seconds) : null;
    }
    $("#shelve-confirm").disabled = true;
    const result = await post(`/api/alarms/${action}`, body);
    $("#shelve-confirm").disabled = false;
    dialog.close();
    if (!result.ok) {
      showMessage(`${action === "shelve" ? "Shelve" : "Unshelve"} refused: ${result.data.error}`);
      $("#message").dataset.kind = "action";
      return;
    }
    showMessage("");
    refresh();
  }

  // -- wiring -------------------------------------------------------------------------------------

  function wire() {
    const form = $("#login-form");
    if (form) form.addEventListener("submit", login);
    const out = $("#logout-button");
    if (out) out.addEventListener("click", logout);
    if (!$("#tags")) return; // logged out beyond loopback: nothing to refresh
    let filterTimer = null;
    $("#tag-filter").addEventListener("input", (event) => {
      clearTimeout(filterTimer);
      filterTimer = setTimeout(() => {
        state.filter = event.target.value;
        state.tagPage = 1;
        refresh();
      }, FILTER_DELAY_MS);
    });
    const pages = { "#tag-pager": "tagPage", "#device-pager": "devicePage" };
    for (const [selector, key] of Object.entries(pages)) {
      $(selector).addEventListener("click", (event) => {
        const button = event.target.closest("button");
        if (!button) return;
        state[key] += button.classList.contains("next") ? 1 : -1;
        refresh();
      });
    }
    $("#tags tbody").addEventListener("click", (event) => {
      const row = event.target.closest("tr");
      if (row) selectTag(row.dataset.tag);
    });
    $("#tags tbody").addEventListener("keydown", (event) => {
      const row = event.target.closest("tr");
      if (row && (event.key === "Enter" || event.key === " ")) {
        event.preventDefault();
        selectTag(row.dataset.tag);
      }
    });
    $("#alarms tbody").addEventListener("click", (event) => {
      const button = event.target.closest("button");
      if (!button) return;
      if (button.classList.contains("ack")) acknowledge(button);
      else openShelving(button);
    });
    const shelveForm = $("#shelve-form");
    if (shelveForm) shelveForm.addEventListener("submit", shelving);
    let resizeTimer = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => state.chartData && drawChart(state.chartData), 100);
    });
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) {
        refresh();
        loadChart();
      }
    });
    for (const element of document.querySelectorAll("td.time[data-time]")) {
      element.textContent = formatTime(Number(element.dataset.time));
    }
    const first = document.querySelector("#tags tbody tr");
    if (first) selectTag(first.dataset.tag);
    state.timer = setTimeout(refresh, REFRESH_MS);
  }

  wire();
})();
