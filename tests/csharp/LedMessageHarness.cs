// Reads server messages, one JSON line each, on standard input and fills
// clients/unity/LedMessage.cs the way Unity's JsonUtility does: each JSON member goes to the
// public field of the same name, and a member a message lacks leaves its field at the default.
// Stricter than JsonUtility, it fails on a nested value, an unknown member, or a member whose
// JSON type does not fit its field. Prints every field so the test can compare with the JSON.
using System;
using System.Globalization;
using System.Reflection;
using System.Runtime.Serialization.Json;
using System.Text;
using System.Xml;

public static class LedMessageHarness
{
    public static void Main()
    {
        string line;
        int status = 0;
        while ((line = Console.ReadLine()) != null)
        {
            if (line.Length == 0) continue;
            try
            {
                LedMessage m = FromJson(line);
                Console.WriteLine("type={0}|level={1}|on={2}|brightness={3}|seq={4}|transition={5}|id={6}|code={7}|message={8}|light={9}|effect={10}|color={11}|kelvin={12}",
                    m.type, m.level, m.on ? "true" : "false", m.brightness, m.seq,
                    m.transition.ToString("0.###", CultureInfo.InvariantCulture), m.id, m.code, m.message, m.light, m.effect,
                    m.color, m.kelvin);
            }
            catch (Exception e)
            {
                Console.WriteLine("FAILED " + e.Message + ": " + line);
                status = 1;
            }
        }
        Environment.Exit(status);
    }

    static LedMessage FromJson(string json)
    {
        var message = new LedMessage();
        byte[] bytes = Encoding.UTF8.GetBytes(json);
        using (XmlDictionaryReader reader = JsonReaderWriterFactory.CreateJsonReader(bytes, XmlDictionaryReaderQuotas.Max))
        {
            reader.ReadStartElement("root");
            while (reader.IsStartElement())
            {
                string name = reader.LocalName;
                string jsonType = reader.GetAttribute("type") ?? "string";
                FieldInfo field = typeof(LedMessage).GetField(name, BindingFlags.Public | BindingFlags.Instance);
                if (field == null) throw new Exception("no field for member '" + name + "'");
                if (jsonType == "object" || jsonType == "array") throw new Exception("member '" + name + "' is not flat");
                string text = reader.ReadElementContentAsString();
                if (field.FieldType == typeof(string) && jsonType == "string")
                    field.SetValue(message, text);
                else if (field.FieldType == typeof(int) && jsonType == "number")
                    field.SetValue(message, int.Parse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture));
                else if (field.FieldType == typeof(float) && jsonType == "number")
                    field.SetValue(message, float.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture));
                else if (field.FieldType == typeof(bool) && jsonType == "boolean")
                    field.SetValue(message, text == "true");
                else
                    throw new Exception("member '" + name + "' is a JSON " + jsonType + " but the field is " + field.FieldType.Name);
            }
        }
        return message;
    }
}
