"""Skills: scripted controllers and ONNX policies, all stepped by the control loop behind the supervisor."""
