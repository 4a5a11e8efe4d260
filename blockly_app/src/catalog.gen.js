// GENERATED from curriculum/catalog.py by `python -m curriculum.front_ends` — do not edit by hand.
// The block table as Blockly needs it: definitions, number ranges, SDK spellings (for the
// Python export and the run-time calls), and Blockly's own blocks every level has.

export const COLOURS = Object.freeze({
  "motion": "#4C97FF",
  "sensing": "#2CB5C9",
  "events": "#FFAB19",
  "skills": "#9966FF"
});

export const ROWS = Object.freeze([
  {
    "id": "move_forward",
    "kind": "command",
    "type": "dojo_move_forward",
    "level": 1,
    "text": "move forward [distance] cm",
    "category": "Car",
    "params": [
      {
        "name": "distance",
        "kind": "number",
        "default": 20
      }
    ],
    "definition": {
      "type": "dojo_move_forward",
      "previousStatement": null,
      "nextStatement": null,
      "inputsInline": true,
      "colour": "#4C97FF",
      "extensions": [
        "dojo_number_ranges"
      ],
      "message0": "move forward %1 cm",
      "args0": [
        {
          "type": "input_value",
          "name": "DISTANCE",
          "check": "Number"
        }
      ],
      "tooltip": "Drive straight ahead."
    },
    "ranges": {
      "DISTANCE": {
        "param": "distance",
        "min": 0,
        "max": 500,
        "default": 20
      }
    },
    "sdk": [
      {
        "name": "forward",
        "style": "call",
        "args": [
          "distance"
        ],
        "fixed": {}
      }
    ]
  },
  {
    "id": "move_backward",
    "kind": "command",
    "type": "dojo_move_backward",
    "level": 1,
    "text": "move backward [distance] cm",
    "category": "Car",
    "params": [
      {
        "name": "distance",
        "kind": "number",
        "default": 20
      }
    ],
    "definition": {
      "type": "dojo_move_backward",
      "previousStatement": null,
      "nextStatement": null,
      "inputsInline": true,
      "colour": "#4C97FF",
      "extensions": [
        "dojo_number_ranges"
      ],
      "message0": "move backward %1 cm",
      "args0": [
        {
          "type": "input_value",
          "name": "DISTANCE",
          "check": "Number"
        }
      ],
      "tooltip": "Drive straight back."
    },
    "ranges": {
      "DISTANCE": {
        "param": "distance",
        "min": 0,
        "max": 500,
        "default": 20
      }
    },
    "sdk": [
      {
        "name": "backward",
        "style": "call",
        "args": [
          "distance"
        ],
        "fixed": {}
      }
    ]
  },
  {
    "id": "turn",
    "kind": "command",
    "type": "dojo_turn",
    "level": 1,
    "text": "turn [direction] [degrees] degrees",
    "category": "Car",
    "params": [
      {
        "name": "direction",
        "kind": "menu",
        "default": "left"
      },
      {
        "name": "degrees",
        "kind": "number",
        "default": 90
      }
    ],
    "definition": {
      "type": "dojo_turn",
      "previousStatement": null,
      "nextStatement": null,
      "inputsInline": true,
      "colour": "#4C97FF",
      "extensions": [
        "dojo_number_ranges"
      ],
      "message0": "turn %1 %2 degrees",
      "args0": [
        {
          "type": "field_dropdown",
          "name": "DIRECTION",
          "options": [
            [
              "left ↺",
              "left"
            ],
            [
              "right ↻",
              "right"
            ]
          ]
        },
        {
          "type": "input_value",
          "name": "DEGREES",
          "check": "Number"
        }
      ],
      "tooltip": "Turn on the spot. Left turns counter-clockwise."
    },
    "ranges": {
      "DEGREES": {
        "param": "degrees",
        "min": 0,
        "max": 1080,
        "default": 90
      }
    },
    "sdk": [
      {
        "name": "turn_left",
        "style": "call",
        "args": [
          "degrees"
        ],
        "fixed": {
          "direction": "left"
        }
      },
      {
        "name": "turn_right",
        "style": "call",
        "args": [
          "degrees"
        ],
        "fixed": {
          "direction": "right"
        }
      }
    ]
  },
  {
    "id": "drive_for",
    "kind": "command",
    "type": "dojo_drive_for",
    "level": 2,
    "text": "drive at [speed]% for [seconds] seconds",
    "category": "Car",
    "params": [
      {
        "name": "speed",
        "kind": "number",
        "default": 50
      },
      {
        "name": "seconds",
        "kind": "number",
        "default": 2
      }
    ],
    "definition": {
      "type": "dojo_drive_for",
      "previousStatement": null,
      "nextStatement": null,
      "inputsInline": true,
      "colour": "#4C97FF",
      "extensions": [
        "dojo_number_ranges"
      ],
      "message0": "drive at %1% for %2 seconds",
      "args0": [
        {
          "type": "input_value",
          "name": "SPEED",
          "check": "Number"
        },
        {
          "type": "input_value",
          "name": "SECONDS",
          "check": "Number"
        }
      ],
      "tooltip": "Drive straight at a speed for a time."
    },
    "ranges": {
      "SPEED": {
        "param": "speed",
        "min": 1,
        "max": 100,
        "default": 50
      },
      "SECONDS": {
        "param": "seconds",
        "min": 0.1,
        "max": 30,
        "default": 2
      }
    },
    "sdk": [
      {
        "name": "drive",
        "style": "call",
        "args": [
          "speed",
          "seconds"
        ],
        "fixed": {}
      }
    ]
  },
  {
    "id": "set_speed",
    "kind": "setting",
    "type": "dojo_set_speed",
    "level": 2,
    "text": "set speed to [speed]%",
    "category": "Car",
    "params": [
      {
        "name": "speed",
        "kind": "number",
        "default": 40
      }
    ],
    "definition": {
      "type": "dojo_set_speed",
      "previousStatement": null,
      "nextStatement": null,
      "inputsInline": true,
      "colour": "#4C97FF",
      "extensions": [
        "dojo_number_ranges"
      ],
      "message0": "set speed to %1%",
      "args0": [
        {
          "type": "input_value",
          "name": "SPEED",
          "check": "Number"
        }
      ],
      "tooltip": "Sets the speed that later moves use."
    },
    "ranges": {
      "SPEED": {
        "param": "speed",
        "min": 1,
        "max": 100,
        "default": 40
      }
    },
    "sdk": [
      {
        "name": "speed",
        "style": "set",
        "args": [
          "speed"
        ],
        "fixed": {}
      }
    ]
  },
  {
    "id": "go_to",
    "kind": "command",
    "type": "dojo_go_to",
    "level": 3,
    "text": "go to x [x] y [y]",
    "category": "Car",
    "params": [
      {
        "name": "x",
        "kind": "number",
        "default": 100
      },
      {
        "name": "y",
        "kind": "number",
        "default": 50
      }
    ],
    "definition": {
      "type": "dojo_go_to",
      "previousStatement": null,
      "nextStatement": null,
      "inputsInline": true,
      "colour": "#4C97FF",
      "extensions": [
        "dojo_number_ranges"
      ],
      "message0": "go to x %1 y %2",
      "args0": [
        {
          "type": "input_value",
          "name": "X",
          "check": "Number"
        },
        {
          "type": "input_value",
          "name": "Y",
          "check": "Number"
        }
      ],
      "tooltip": "Drive to a point in the arena (centimetres from the lower-left corner)."
    },
    "ranges": {
      "X": {
        "param": "x",
        "min": 0,
        "max": 5000,
        "default": 100
      },
      "Y": {
        "param": "y",
        "min": 0,
        "max": 5000,
        "default": 50
      }
    },
    "sdk": [
      {
        "name": "go_to",
        "style": "call",
        "args": [
          "x",
          "y"
        ],
        "fixed": {}
      }
    ]
  },
  {
    "id": "do_skill",
    "kind": "command",
    "type": "dojo_do_skill",
    "level": 3,
    "text": "do skill [skill]",
    "category": "Car",
    "params": [
      {
        "name": "skill",
        "kind": "skill",
        "default": "slalom"
      }
    ],
    "definition": {
      "type": "dojo_do_skill",
      "previousStatement": null,
      "nextStatement": null,
      "inputsInline": true,
      "colour": "#9966FF",
      "message0": "do skill %1",
      "args0": [
        {
          "type": "field_dojo_skill",
          "name": "SKILL"
        }
      ],
      "tooltip": "Run a trick the car knows."
    },
    "ranges": {},
    "sdk": [
      {
        "name": "do",
        "style": "call",
        "args": [
          "skill"
        ],
        "fixed": {}
      }
    ]
  },
  {
    "id": "stop",
    "kind": "command",
    "type": "dojo_stop",
    "level": 1,
    "text": "stop",
    "category": "Car",
    "params": [],
    "definition": {
      "type": "dojo_stop",
      "previousStatement": null,
      "nextStatement": null,
      "inputsInline": true,
      "colour": "#E6453C",
      "message0": "stop",
      "args0": [],
      "tooltip": "Stop at once. Never waits, never refused."
    },
    "ranges": {},
    "sdk": [
      {
        "name": "stop",
        "style": "call",
        "args": [],
        "fixed": {}
      }
    ]
  },
  {
    "id": "distance",
    "kind": "reporter",
    "type": "dojo_distance",
    "level": 2,
    "text": "distance ahead (cm)",
    "category": "Sensors",
    "params": [],
    "definition": {
      "type": "dojo_distance",
      "output": "Number",
      "colour": "#2CB5C9",
      "message0": "distance ahead (cm)",
      "args0": [],
      "tooltip": "What the distance sensor sees ahead, in cm (a huge number when nothing is in range)."
    },
    "ranges": {},
    "sdk": [
      {
        "name": "distance",
        "style": "call",
        "args": [],
        "fixed": {}
      }
    ]
  },
  {
    "id": "position",
    "kind": "reporter",
    "type": "dojo_position",
    "level": 2,
    "text": "[axis]",
    "category": "Sensors",
    "params": [
      {
        "name": "axis",
        "kind": "menu",
        "default": "x"
      }
    ],
    "definition": {
      "type": "dojo_position",
      "output": "Number",
      "colour": "#2CB5C9",
      "message0": "%1",
      "args0": [
        {
          "type": "field_dropdown",
          "name": "AXIS",
          "options": [
            [
              "x position",
              "x"
            ],
            [
              "y position",
              "y"
            ],
            [
              "heading",
              "heading"
            ]
          ]
        }
      ],
      "tooltip": "Where the car is: x and y in cm, heading in degrees (0 points right, left turns add)."
    },
    "ranges": {},
    "sdk": [
      {
        "name": "x",
        "style": "get",
        "args": [],
        "fixed": {
          "axis": "x"
        }
      },
      {
        "name": "y",
        "style": "get",
        "args": [],
        "fixed": {
          "axis": "y"
        }
      },
      {
        "name": "heading",
        "style": "get",
        "args": [],
        "fixed": {
          "axis": "heading"
        }
      }
    ]
  },
  {
    "id": "when_obstacle",
    "kind": "hat",
    "type": "dojo_when_obstacle",
    "level": 2,
    "text": "when obstacle closer than [distance] cm",
    "category": "Sensors",
    "params": [
      {
        "name": "distance",
        "kind": "number",
        "default": 20
      }
    ],
    "definition": {
      "type": "dojo_when_obstacle",
      "nextStatement": null,
      "colour": "#FFAB19",
      "message0": "when obstacle closer than %1 cm",
      "args0": [
        {
          "type": "field_number",
          "name": "DISTANCE",
          "value": 20,
          "min": 1,
          "max": 200
        }
      ],
      "message1": "%1",
      "args1": [
        {
          "type": "input_statement",
          "name": "DO"
        }
      ],
      "tooltip": "Runs the blocks inside when something comes closer than the distance."
    },
    "ranges": {
      "DISTANCE": {
        "param": "distance",
        "min": 1,
        "max": 200,
        "default": 20
      }
    },
    "sdk": [
      {
        "name": "on_obstacle",
        "style": "decorator",
        "args": [
          "distance"
        ],
        "fixed": {}
      }
    ]
  }
]);

export const STANDARD_TYPES = Object.freeze([
  "controls_flow_statements",
  "controls_for",
  "controls_if",
  "controls_repeat_ext",
  "controls_whileUntil",
  "logic_boolean",
  "logic_compare",
  "logic_negate",
  "logic_operation",
  "math_arithmetic",
  "math_change",
  "math_modulo",
  "math_number",
  "math_random_int",
  "math_round",
  "procedures_callnoreturn",
  "procedures_callreturn",
  "procedures_defnoreturn",
  "procedures_defreturn",
  "procedures_ifreturn",
  "variables_get",
  "variables_set"
]);
