// The kid's Scratch project is kept on the classroom server (GET/PUT /api/programs/scratch, an .sb3 with
// its costumes and sounds): saved a moment after each change, and loaded again when the kid comes back.
import * as api from '/kid-ui/api.js';

const SAVE_DEBOUNCE_MS = 1500; // save once the kid pauses, not on every pixel of a drag
const SHOWN_WAIT_MS = 5000; // a loaded project is on screen a moment later

export class Autosave {
  /** vm: the Scratch VM; token(): the kid's token; onState(text, title?): the little "saved ✓" label */
  constructor(vm, token, onState) {
    this.vm = vm;
    this.token = token;
    this.onState = onState;
    this.timer = null;
    this.enabled = false; // only after the saved project (or the starter) is in: never save over it
    vm.on('PROJECT_CHANGED', () => this.changed());
  }

  /** Load the kid's saved project, if any. Returns true when one came back ("welcome back"). */
  async restore() {
    try {
      const sb3 = await api.loadScratchProject(this.token());
      if (!sb3) return false;
      const shown = new Promise((resolve) => { // the editor redraws its blocks and palette after a load
        this.vm.once('workspaceUpdate', resolve);
        setTimeout(resolve, SHOWN_WAIT_MS);
      });
      await this.vm.loadProject(sb3);
      await shown;
      return true;
    } finally {
      this.enabled = true;
    }
  }

  changed() {
    if (!this.enabled) return;
    clearTimeout(this.timer);
    this.onState('editing…');
    this.timer = setTimeout(() => this.save(), SAVE_DEBOUNCE_MS);
  }

  async save() {
    clearTimeout(this.timer);
    try {
      await api.saveScratchProject(this.token(), await this.vm.saveProjectSb3());
      this.onState('saved ✓');
    } catch (err) {
      this.onState('not saved ⚠', err.message);
    }
  }
}
