// Test stub: the Arduino core members the generated sketch uses.
#ifndef ARDUINO_STUB_H
#define ARDUINO_STUB_H
struct HardwareSerialStub {
  void begin(unsigned long baud);
  unsigned long print(const char* text);
  explicit operator bool() const;
};
extern HardwareSerialStub Serial;
void delay(unsigned long ms);
#endif
