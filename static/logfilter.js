// The sidebar's filter box: shows only the logs whose name or host contains what is typed (case ignored),
// and only the host groups with such a log. With a hundred hosts of ten logs each, the list is otherwise a
// wall to scroll through.

export class LogFilter {
  /**
   * @param {HTMLInputElement} input  the filter box
   * @param {HTMLElement} list  the sidebar's list of logs and host groups
   */
  constructor(input, list) {
    this.input = input;
    this.list = list;
    this.query = "";
    input.addEventListener("input", () => this.apply());
    input.addEventListener("keydown", (e) => {
      if (e.key !== "Escape") return;
      if (input.value) {
        input.value = "";
        this.apply();
      } else {
        input.blur();
      }
    });
  }

  focus() {
    this.input.focus();
    this.input.select();
  }

  /** Show and hide the items for the current text (after the list changed, too). */
  apply() {
    this.query = this.input.value.trim().toLowerCase();
    const q = this.query;
    this.list.classList.toggle("filtering", q !== "");
    for (const item of this.list.querySelectorAll("li.log-item")) {
      const host = item.closest("li.host-group")?.dataset.host ?? "";
      item.hidden = q !== "" && !item.dataset.name.toLowerCase().includes(q) && !host.toLowerCase().includes(q);
    }
    for (const group of this.list.querySelectorAll("li.host-group")) {
      group.hidden = q !== "" && !group.querySelector("li.log-item:not([hidden])");
    }
  }
}
