// Marquee: the landing line under the logo (catalog size, what is loaded, LLM state), read from
// /movie-rag/about. Text only (textContent): nothing from the server becomes HTML.
(function () {
  let about = null;
  let asked = false;
  function place() {
    const starters = document.getElementById("starters");
    if (!starters || document.getElementById("mr-about")) return;
    if (!about) {
      if (!asked) {
        asked = true;
        fetch("/movie-rag/about", { credentials: "same-origin" })
          .then((r) => (r.ok ? r.json() : null))
          .then((data) => { about = data; asked = !!data; place(); })
          .catch(() => { asked = false; });
      }
      return;
    }
    const box = document.createElement("div");
    box.id = "mr-about";
    box.setAttribute("data-testid", "mr-about");
    const line = document.createElement("p");
    line.className = "mr-about-line";
    line.textContent = about.description || "";
    const llm = document.createElement("p");
    llm.className = "mr-about-llm" + (about.llm_up ? " mr-llm-up" : " mr-llm-down");
    llm.textContent = about.llm || "";
    box.append(line, llm);
    starters.parentElement.insertBefore(box, starters);
  }
  new MutationObserver(place).observe(document.documentElement, { childList: true, subtree: true });
})();
