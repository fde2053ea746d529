// Shared by every page: the API token, the author name, JSON calls and a status toast.
(function () {
  "use strict";
  const token = document.querySelector('meta[name="sb-token"]').content;
  const authorInput = document.getElementById("author");
  const saved = window.localStorage.getItem("sheets-bridge-author") || "";
  if (authorInput) {
    authorInput.value = saved;
    authorInput.addEventListener("change", () =>
      window.localStorage.setItem("sheets-bridge-author", authorInput.value.trim()));
  }
  let toastTimer = null;

  const sb = {
    author() {
      return (authorInput && authorInput.value.trim()) || "web";
    },
    async api(method, path, body) {
      const init = { method, headers: { Authorization: "Bearer " + token } };
      if (body !== undefined) {
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
      const response = await fetch(path, init);
      let data = null;
      try {
        data = await response.json();
      } catch (e) {
        data = { error: "the server answered " + response.status + " without JSON" };
      }
      if (!response.ok) {
        const error = new Error((data && data.error) || "HTTP " + response.status);
        error.status = response.status;
        error.data = data;
        throw error;
      }
      return data;
    },
    // Cell edits are compare-and-set: each edit says what the page showed (`expected`); a cell
    // changed since answers 409 with what it holds now. `options` adds bulk/confirm/force.
    edit(edits, options) {
      return sb.api("POST", "/api/edit", Object.assign({ edits, author: sb.author() }, options || {}));
    },
    // A bulk edit over the server's threshold answers 428: ask, then send it again confirmed.
    async editConfirmed(edits, options) {
      try {
        return await sb.edit(edits, options);
      } catch (e) {
        if (e.status !== 428) throw e;
        if (!window.confirm("Change " + e.data.rows + " rows? (Undo takes it back.)")) return null;
        return sb.edit(edits, Object.assign({}, options, { confirm: true }));
      }
    },
    // Takes back this author's last action; cells changed since stay as they are (409).
    async undo() {
      try {
        return await sb.api("POST", "/api/undo", { author: sb.author() });
      } catch (e) {
        if (e.status === 409 && e.data) return e.data;
        throw e;
      }
    },
    // "3 changed, 1 kept (typed by someone), 2 changed since you looked (left alone)".
    summary(result) {
      const parts = [result.changed + " cell(s) changed"];
      if (result.kept && result.kept.length) parts.push(result.kept.length + " typed by someone kept (Force replaces them)");
      if (result.conflicts && result.conflicts.length) {
        const c = result.conflicts[0];
        parts.push(result.conflicts.length + " changed since you looked, left alone (" + c.id + " " + c.column + " holds \"" + c.current + "\")");
      }
      return parts.join(", ");
    },
    toast(text, kind) {
      const el = document.getElementById("toast");
      el.textContent = text;
      el.className = "show " + (kind || "");
      clearTimeout(toastTimer);
      toastTimer = setTimeout(() => { el.className = ""; }, kind === "error" ? 8000 : 3000);
    },
    // Text for the places that take HTML (Tabulator's column titles, dropdown entries and
    // formatter results): class names, annotator names and cell values are never markup.
    escapeHtml(text) {
      return String(text === null || text === undefined ? "" : text).replace(/[&<>"'`]/g,
        (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;" })[c]);
    },
    thumb(id) {
      return "/images/" + encodeURIComponent(id) + "?thumb=1";
    },
  };
  window.sheetsBridge = Object.assign(window.sheetsBridge || {}, sb);
})();
