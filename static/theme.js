// The colour theme: automatic (the system's), dark or light, cycled by a button and remembered in
// localStorage; "auto" leaves the choice to the stylesheet's prefers-color-scheme.

const THEME_KEY = "logtail.theme";
const THEMES = ["auto", "dark", "light"];

/** Apply the remembered theme and let `button` cycle through the themes. */
export function bindTheme(button) {
  applyTheme(button, storedTheme());
  button.addEventListener("click", () => {
    const next = THEMES[(THEMES.indexOf(storedTheme()) + 1) % THEMES.length];
    try {
      if (next === "auto") localStorage.removeItem(THEME_KEY);
      else localStorage.setItem(THEME_KEY, next);
    } catch {
      // storage blocked: the choice lasts for this page only
    }
    applyTheme(button, next);
  });
}

function storedTheme() {
  try {
    const value = localStorage.getItem(THEME_KEY);
    return THEMES.includes(value) ? value : "auto";
  } catch {
    return "auto";
  }
}

function applyTheme(button, theme) {
  if (theme === "auto") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  button.textContent = `Theme: ${theme}`;
}
