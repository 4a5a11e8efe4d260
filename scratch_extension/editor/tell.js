// "Tell the car" in the served Scratch editor: the box (/language/tell_box.js) asks the classroom server, and
// this target drops the plan's script — "when green flag clicked", the blocks, the sentence as a comment on
// the hat — into the sprite's workspace through scratch-blocks, so the VM gets it like a script the kid
// dragged in: Ctrl+Z (or the box's Undo) takes it away, the green flag runs it. Nothing runs by itself.
//
//   mountTell(document.getElementById('tell-slot'), { vm, token: () => kid.token });
import { TellBox } from '/language/tell_box.js';

export const NEW_GAP_PX = 80; // a new script goes this far right of the scripts already there
export const COMMENT_GAP_PX = 170; // the sentence's comment sits this far right of the hat block
const NEW_CLASS = 'tell-new'; // the glow of blocks that came from a sentence (tell.css)

/** scratch-gui keeps its scratch-blocks workspace reachable as Blockly.getMainWorkspace() (4.0.x). */
const mainWorkspace = () => (window.Blockly?.getMainWorkspace?.() || null);

export class ScratchPlans {
  constructor(vm, workspace = mainWorkspace) {
    this.vm = vm;
    this.workspace = workspace;
    this.stopGlow = null;
  }

  /** The script into the edited sprite; returns the id of its hat block. */
  async insert(answer) {
    await this.editSprite();
    const ws = this.workspace();
    const Xml = window.Blockly?.Xml;
    if (!ws || !Xml?.domToWorkspace) throw new Error("I can't find the blocks area — reload the page and try again.");
    const dom = Xml.textToDom(answer.scratch_xml);
    const hat = [...dom.children].find((node) => node.nodeName.toLowerCase() === 'block');
    const box = ws.getTopBlocks(false).length ? ws.getBlocksBoundingBox() : null; // {x, y, width, height}
    const x = box ? box.x + box.width + NEW_GAP_PX : 40;
    const y = box ? box.y : 40;
    hat.setAttribute('x', String(Math.round(x)));
    hat.setAttribute('y', String(Math.round(y)));
    const note = [...hat.children].find((node) => node.nodeName.toLowerCase() === 'comment');
    note?.setAttribute('x', String(Math.round(x + COMMENT_GAP_PX)));
    note?.setAttribute('y', String(Math.round(y)));
    this.forget();
    let ours = null; // the event group of our own insertion (scratch-blocks groups domToWorkspace's events)
    const [hatId] = Xml.domToWorkspace(dom, ws);
    const blocks = ws.getBlockById(hatId).getDescendants(false); // with the number shadows
    const ids = new Set(blocks.map((b) => b.id));
    for (const b of blocks) b.getSvgRoot()?.classList.add(NEW_CLASS);
    ws.centerOnBlock?.(hatId);
    const listener = (event) => { // the glow stays until the kid changes one of these blocks (a number, a drag)
      if (event.type === 'create' && event.blockId === hatId) ours = event.group;
      else if (event.type !== 'ui' && !String(event.type).startsWith('comment_') // (the comment comes a tick later)
        && event.group !== ours && ids.has(event.blockId)) this.forget();
    };
    ws.addChangeListener(listener);
    this.stopGlow = () => {
      ws.removeChangeListener(listener);
      for (const b of blocks) b.getSvgRoot()?.classList.remove(NEW_CLASS);
    };
    return hatId;
  }

  remove(hatId) {
    this.forget();
    this.workspace()?.getBlockById(hatId)?.dispose(false, true); // the VM hears the delete, like any other
  }

  forget() {
    this.stopGlow?.();
    this.stopGlow = null;
  }

  /** Scripts go to a sprite: when the Stage is selected, switch to the first sprite first. */
  async editSprite() {
    const { vm } = this;
    if (vm.editingTarget && !vm.editingTarget.isStage) return;
    const sprite = vm.runtime.targets.find((t) => !t.isStage && t.isOriginal);
    if (!sprite) throw new Error('Add a sprite first: the blocks go into a sprite.');
    const shown = new Promise((resolve) => vm.once('workspaceUpdate', () => setTimeout(resolve, 0)));
    vm.setEditingTarget(sprite.id);
    await shown;
  }
}

export function mountTell(root, { vm, token, onPlanned }) {
  return new TellBox(root, { frontEnd: 'scratch', token, target: new ScratchPlans(vm), onPlanned });
}
