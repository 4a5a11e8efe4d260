// The skill menu of "do skill [...]": a dropdown that KEEPS a skill the kid cannot use (yet).
//
// Blockly's stock dropdown refuses a value that is not among its options and silently keeps its first
// option instead (upstream issue 3638): a saved "do skill drift" would load as "do skill slalom" for a
// kid whose level lost drift, and the car would do a different trick than the program says. This field
// accepts any well-formed skill name, lists the kid's skills, and shows a kept unavailable one with a
// label ("drift (locked)") so the kid sees it; the server refuses it with a reason when the program runs.

export const SKILL_NAME_RE = /^[a-z][a-z0-9_]{0,39}$/; // robot_runtime.protocol.NamedSkillAction.name
export const LOCKED = '(locked)'; // plain text: every classroom font has it (no emoji font needed)

/**
 * The skills the field offers, shared with the app (which updates it when the kid's level changes).
 * available: skills of the kid's level; all: every catalog skill; unlockLevel: name -> level;
 * lockedText: name -> the gate's sentence for a skill above the kid's level (from /api/catalog).
 */
export function createSkillContext({ available = [], all = [], unlockLevel = {}, lockedText = {} } = {}) {
  return { available: [...available], all: [...all], unlockLevel: { ...unlockLevel }, lockedText: { ...lockedText } };
}

export function skillLabel(name) {
  return name.replace(/_/g, ' ');
}

/** Kid text for a skill the kid cannot use now: the gate's own sentence (unknown names: its wording too). */
export function unavailableSkillText(context, name) {
  return context.lockedText?.[name] || `This car doesn't know the “${skillLabel(name)}” skill yet.`;
}

/** Build the field class for one Blockly instance (Blockly is passed in: no import side effects). */
export function defineSkillField(Blockly, context) {
  class FieldSkill extends Blockly.FieldDropdown {
    constructor(value, validator, config) {
      // Blockly calls the menu generator with `this` bound to the field.
      super(function generateSkillOptions() { return this.skillOptions(); }, validator, config);
      if (value && SKILL_NAME_RE.test(value)) this.setValue(value, false);
    }

    static fromJson(options) {
      return new this(options.value, undefined, options);
    }

    skillOptions() {
      const options = context.available.map((name) => [skillLabel(name), name]);
      const current = this.getValue ? this.getValue() : null;
      if (current && !context.available.includes(current)) {
        options.push([`${skillLabel(current)} ${LOCKED}`, current]);
      }
      if (options.length === 0) {
        // No skills at this level: show the first catalog skill, locked (the block is locked too).
        const first = context.all[0] || 'slalom';
        options.push([`${skillLabel(first)} ${LOCKED}`, first]);
      }
      return options;
    }

    /** Any well-formed skill name is kept, listed or not: a program never turns into another skill. */
    doClassValidation_(newValue) {
      if (typeof newValue !== 'string' || !SKILL_NAME_RE.test(newValue)) return null;
      return newValue;
    }

    /** The option cache must hold the new value before the stock update looks its label up. */
    doValueUpdate_(newValue) {
      this.value_ = newValue;
      this.getOptions(false);
      super.doValueUpdate_(newValue);
    }

    /** After the kid's level changed: relabel (a skill may have become available or locked). */
    refreshSkills() {
      this.getOptions(false);
      super.doValueUpdate_(this.getValue());
      if (this.getSourceBlock()?.rendered) this.forceRerender();
    }

    isAvailable() {
      return context.available.includes(this.getValue());
    }
  }
  return FieldSkill;
}
