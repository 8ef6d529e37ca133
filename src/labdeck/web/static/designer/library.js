/*
 * labdeck Library page: load a chosen file into the import box (the server converts it).
 */
(function () {
  "use strict";
  const file = document.querySelector("[data-import-file]");
  if (!file) return;
  file.addEventListener("change", function () {
    const chosen = file.files && file.files[0];
    if (!chosen) return;
    chosen.text().then(function (text) {
      document.getElementById("import-source").value = text;
    });
  });
})();
