package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * Every command's {@code --help} wraps cleanly at any terminal width: picocli wraps each text
 * element to the width, so an element must be whole sentences (never a line broken by hand) and may
 * not hold a line break of its own.
 */
class HelpTextTest {

  @Test
  void helpTexts_haveNoHardLineBreaks() {
    for (CommandSpec spec : allCommands()) {
      for (Text t : texts(spec)) {
        assertThat(t.text()).as(t.where()).doesNotContain("\n", "\r");
      }
    }
  }

  @Test
  void helpTexts_neverSplitASentenceAcrossElements() {
    List<String> split = new ArrayList<>();
    for (CommandSpec spec : allCommands()) {
      for (List<String> block : blocks(spec)) {
        for (int i = 0; i + 1 < block.size(); i++) {
          String line = block.get(i).stripTrailing();
          String next = block.get(i + 1);
          // An element that stops mid-sentence (no closing punctuation) followed by more prose
          // (not a blank line, not an indented example) is a sentence wrapped by hand: at
          // another width it shows as a short line in the middle of a paragraph.
          boolean midSentence =
              !line.isBlank() && !line.startsWith(" ") && !line.matches(".*[.:!?)]$");
          boolean continues = !next.isBlank() && !next.startsWith(" ");
          if (midSentence && continues) {
            split.add(spec.qualifiedName() + ": \"" + line + "\" / \"" + next + "\"");
          }
        }
      }
    }
    assertThat(split).isEmpty();
  }

  @Test
  void usage_atWidths60And120_fitsTheWidth() {
    for (int width : new int[] {60, 120}) {
      for (CommandSpec spec : allCommands()) {
        spec.usageMessage().width(width);
        String usage = new CommandLine(spec).getUsageMessage(CommandLine.Help.Ansi.OFF);
        for (String line : usage.split("\n", -1)) {
          assertThat(line.length())
              .as("%s at width %d: \"%s\"", spec.qualifiedName(), width, line)
              .isLessThanOrEqualTo(width);
        }
      }
    }
  }

  private record Text(String where, String text) {}

  private static List<CommandSpec> allCommands() {
    List<CommandSpec> out = new ArrayList<>();
    collect(new CommandLine(new Main()).getCommandSpec(), out);
    return out;
  }

  private static void collect(CommandSpec spec, List<CommandSpec> out) {
    out.add(spec);
    for (CommandLine sub : spec.subcommands().values()) {
      if (!out.contains(sub.getCommandSpec())) {
        collect(sub.getCommandSpec(), out);
      }
    }
  }

  /** The runs of text elements picocli lays out one after another. */
  private static List<List<String>> blocks(CommandSpec spec) {
    List<List<String>> out = new ArrayList<>();
    out.add(List.of(spec.usageMessage().header()));
    out.add(List.of(spec.usageMessage().description()));
    out.add(List.of(spec.usageMessage().footer()));
    for (OptionSpec o : spec.options()) {
      out.add(List.of(o.description()));
    }
    for (PositionalParamSpec p : spec.positionalParameters()) {
      out.add(List.of(p.description()));
    }
    return out;
  }

  private static List<Text> texts(CommandSpec spec) {
    List<Text> out = new ArrayList<>();
    for (List<String> block : blocks(spec)) {
      for (String s : block) {
        out.add(new Text(spec.qualifiedName(), s));
      }
    }
    return out;
  }
}
