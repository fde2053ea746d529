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
    edit(edits) {
      return sb.api("POST", "/api/edit", { edits, author: sb.author() });
    },
    toast(text, kind) {
      const el = document.getElementById("toast");
      el.textContent = text;
      el.className = "show " + (kind || "");
      clearTimeout(toastTimer);
      toastTimer = setTimeout(() => { el.className = ""; }, kind === "error" ? 8000 : 3000);
    },
    thumb(id) {
      return "/images/" + encodeURIComponent(id) + "?thumb=1";
    },
  };
  window.sheetsBridge = Object.assign(window.sheetsBridge || {}, sb);
})();
