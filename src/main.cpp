// main.cpp — command-line wiring only: parses the subcommand and its flags, loads the
// configuration, builds the pieces and hands over to them.  No logic lives here.
#include <signal.h>
#include <sys/stat.h>

#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return ef::cli::run(args, std::cout, std::cerr);
}
